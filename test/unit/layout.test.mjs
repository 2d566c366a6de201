// The layers of src/ and who may import whom (README "Layout"): a layer never imports a face, a
// lower layer never imports a higher one, and no file takes part in an import circle. Read from
// the sources' import statements, so a change that breaks the layout fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Each unit of src/ (a folder, or a file at the top) and its rank: imports go to lower ranks only. */
export const LAYERS = {
  'linux': 0, 'errors.ts': 0, // kernel facts and constants; errors with a stable code
  'helper': 1, 'config': 1, 'cgroups': 1, 'options.ts': 1, // protocol and session; the OCI config model; cgroups; option checks
  'plan': 2, // config + host facts -> ops, pure
  'network': 3, // CNI networks, user-mode networks, a container's network (Runtime uses it)
  'runtime': 4, // the OCI runtime library: state, locks, hooks, users, Runtime
  'image': 5, // the image store: above runtime, whose lock it takes
};
/** The faces: they may import any layer; a layer never imports a face. */
export const FACES = { 'toolkit': ['toolkit'], 'cli': ['cli', 'toolkit', 'sandbox'], 'sandbox': ['sandbox'], 'index.ts': ['toolkit', 'sandbox'] };

function sources(dir = SRC) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []);
}

function unitOf(file) {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.split('/')[0] : rel;
}

function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const out = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.push(normalize(join(dirname(file), m[1])).replace(/\.js$/, '.ts'));
  }
  return out;
}

const files = sources();

test('every unit of src/ is a known layer or face', () => {
  const unknown = [...new Set(files.map(unitOf))].filter((u) => !(u in LAYERS) && !(u in FACES));
  assert.deepEqual(unknown, [], 'add the new folder to LAYERS or FACES here and to the README\'s Layout');
});

test('imports go down the layers, and no layer imports a face', () => {
  const wrong = [];
  for (const file of files) {
    const from = unitOf(file);
    for (const target of importsOf(file)) {
      const to = unitOf(target);
      if (to === from) continue;
      const ok = from in FACES ? (to in LAYERS || FACES[from].includes(to)) : (to in LAYERS && LAYERS[to] < LAYERS[from]);
      if (!ok) wrong.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no import circles between files', () => {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => files.includes(t))]));
  const state = new Map();
  const circles = [];
  const visit = (f, path) => {
    state.set(f, 'open');
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open') circles.push([...path.slice(path.indexOf(t)), t].map((p) => relative(SRC, p)).join(' -> '));
      else if (!state.has(t)) visit(t, [...path, t]);
    }
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f, [f]);
  assert.deepEqual(circles, []);
});
