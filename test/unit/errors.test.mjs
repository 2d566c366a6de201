// Every HakoError thrown in src/ says what kind of failure it is (a code, docs/errors.md), and the
// constructor stays compatible: (message, exitCode?) still works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, ERROR_CODES, HakoError, HelperError, OptionError } from '../../dist/index.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
// src/helper/session.ts is being reworked by the live-session work: its codes come with it
const PENDING = new Set(['helper/session.ts']);

/** The number of top-level arguments of the call whose '(' ends at `start`. */
function argumentCount(src, start) {
  const stack = [];
  let commas = 0;
  for (let j = start; j < src.length; j++) {
    const c = src[j];
    const top = stack[stack.length - 1];
    if (top === '`' || top === "'" || top === '"') {
      if (c === '\\') { j++; continue; }
      if (c === top) stack.pop();
      else if (top === '`' && c === '$' && src[j + 1] === '{') { stack.push('{'); j++; }
      continue;
    }
    if (c === '`' || c === "'" || c === '"' || c === '(' || c === '[' || c === '{') stack.push(c);
    else if (c === ')' || c === ']' || c === '}') {
      if (stack.length === 0) return commas + 1;
      stack.pop();
    } else if (c === ',' && stack.length === 0) commas++;
  }
  throw new Error('unbalanced');
}

test('every new HakoError in src/ is given a code', () => {
  const missing = [];
  for (const file of readdirSync(SRC, { recursive: true }).filter((f) => f.endsWith('.ts'))) {
    if (PENDING.has(file)) continue;
    const src = readFileSync(join(SRC, file), 'utf8');
    for (const m of src.matchAll(/new HakoError\(/g)) {
      if (argumentCount(src, m.index + m[0].length) < 2) missing.push(`${file}:${src.slice(0, m.index).split('\n').length}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('the constructor: (message, exitCode?, code?) and (message, { exitCode?, code? })', () => {
  const a = new HakoError('hako: x');
  assert.deepEqual([a.message, a.exitCode, a.code, a.name], ['hako: x', 1, 'error', 'HakoError']);
  const b = new HakoError('hako: x', 255);
  assert.deepEqual([b.exitCode, b.code], [255, 'error']);
  const c = new HakoError('hako: x', 3, 'not-found');
  assert.deepEqual([c.exitCode, c.code], [3, 'not-found']);
  const d = new HakoError('hako: x', { code: 'exists' });
  assert.deepEqual([d.exitCode, d.code], [1, 'exists']);
  assert.equal(new ConfigError('process.cwd', 'must be an absolute path').code, 'bad-config');
  assert.equal(new OptionError('run', 'options.x', 'unknown option').code, 'bad-option');
  assert.equal(new HelperError('hako: y', { stage: 'init', op: 'mount', errno: 1, errname: 'EPERM', message: '' }).code, 'helper');
  for (const e of [a, c, d]) assert.ok(ERROR_CODES.includes(e.code));
});

test('docs/errors.md lists every code', () => {
  const doc = readFileSync(join(SRC, '..', 'docs', 'errors.md'), 'utf8');
  for (const code of ERROR_CODES) assert.match(doc, new RegExp(`^\\| \`${code}\` \\|`, 'm'), code);
});
