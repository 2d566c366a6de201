// The library checks its options at run time, as strictly as the CLI checks its flags: each bad
// input below is refused with one line naming the option's path and what was expected, with code
// 'bad-option', before anything runs (no helper process is started).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { HakoError, OptionError, Runtime, describeProcesses, listNamespaces, nsenter, nsenterPlan, unshare, unsharePlan } from '../../dist/index.js';

const NS = "(one of user, mnt, pid, net, uts, ipc, cgroup, time)";

/** The pids of this process's children. */
function children() {
  return readdirSync('/proc/self/task').flatMap((t) => readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
}

/** [what, call, expected message (string: exact; RegExp: matched), option path] */
const cases = [
  ['unshare: an unknown namespace name', () => unshare({ namespaces: ['network'], command: ['true'], stdio: 'ignore' }),
    `hako: unshare: options.namespaces[0]: unknown namespace 'network' ${NS}`, 'options.namespaces[0]'],
  ['unshare: a string for namespaces', () => unshare({ namespaces: 'net', command: ['true'], stdio: 'ignore' }),
    "hako: unshare: options.namespaces: must be an array (got 'net')", 'options.namespaces'],
  ['unshare: an unknown option key', () => unshare({ namespace: ['net'], command: ['true'], stdio: 'ignore' }),
    /^hako: unshare: options\.namespace: unknown option \(known: .*\bnamespaces\b.*\)$/, 'options.namespace'],
  ['unshare: a string for a number', () => unshare({ mapUser: '0', command: ['true'], stdio: 'ignore' }),
    "hako: unshare: options.mapUser: must be an integer from 0 to 4294967294 (got '0')", 'options.mapUser'],
  ['unshare: an id range without count', () => unshare({ mapUsers: [{ inside: 0, outside: 1000 }], command: ['true'], stdio: 'ignore' }),
    'hako: unshare: options.mapUsers[0].count: is required', 'options.mapUsers[0].count'],
  ['unshare: an unknown propagation', () => unshare({ namespaces: ['mnt'], propagation: 'rprivate', command: ['true'], stdio: 'ignore' }),
    "hako: unshare: options.propagation: unknown propagation 'rprivate' (one of private, shared, slave, unchanged)", 'options.propagation'],
  ['unshare: a string command', () => unshare({ command: 'ls', stdio: 'ignore' }),
    "hako: unshare: options.command: must be an array (got 'ls')", 'options.command'],
  ['unshare: a number in the command', () => unshare({ command: ['ls', 1], stdio: 'ignore' }),
    'hako: unshare: options.command[1]: must be a string (got 1)', 'options.command[1]'],
  ['unshare: a number in env', () => unshare({ env: { A: 1 }, command: ['true'], stdio: 'ignore' }),
    'hako: unshare: options.env.A: must be a string (got 1)', 'options.env.A'],
  ['unshare: a misspelt stdio', () => unshare({ stdio: 'pip', command: ['true'] }),
    "hako: unshare: options.stdio: unknown stdio 'pip' (one of inherit, pipe, ignore)", 'options.stdio'],
  ['unshare: a bad stdio entry', () => unshare({ stdio: ['ignore', 'pipe', 'file'], command: ['true'] }),
    /^hako: unshare: options\.stdio\[2\]: unknown stdio 'file' \(one of inherit, pipe, ignore, ipc, overlapped\)$/, 'options.stdio[2]'],
  ['unshare: explain as a string', () => unshare({ explain: 'yes', command: ['true'], stdio: 'ignore' }),
    "hako: unshare: options.explain: must be true, false or a function (got 'yes')", 'options.explain'],
  ['unshare: a signal name for killSignal', () => unshare({ killSignal: 'TERM', command: ['true'], stdio: 'ignore' }),
    "hako: unshare: options.killSignal: must be an integer from 1 to 64 (got 'TERM')", 'options.killSignal'],
  ['unshare: an unknown signal to forward', () => unshare({ forwardSignals: ['SIGNOPE'], command: ['true'], stdio: 'ignore' }),
    "hako: unshare: options.forwardSignals[0]: must be a signal name like SIGTERM or a number from 1 to 64 (got 'SIGNOPE')", 'options.forwardSignals[0]'],
  ['unshare: 1 for a boolean', () => unshare({ all: 1, command: ['true'], stdio: 'ignore' }),
    'hako: unshare: options.all: must be true or false (got 1)', 'options.all'],
  ['unshare: null options', () => unshare(null),
    'hako: unshare: options: must be an object (got null)', 'options'],
  ['unshare: a negative maxBuffer', () => unshare({ maxBuffer: -1, command: ['true'], stdio: 'ignore' }),
    'hako: unshare: options.maxBuffer: must be a non-negative integer (got -1)', 'options.maxBuffer'],
  ['unshare: a signal that is not an AbortSignal', () => unshare({ signal: 'x', command: ['true'], stdio: 'ignore' }),
    "hako: unshare: options.signal: must be an AbortSignal (got 'x')", 'options.signal'],
  ['unshare: a negative timeoutMs', () => unshare({ timeoutMs: -5, command: ['true'], stdio: 'ignore' }),
    'hako: unshare: options.timeoutMs: must be a non-negative number (got -5)', 'options.timeoutMs'],
  ['unsharePlan: the same checks', () => unsharePlan({ namespaces: ['ipc', 'mount'] }),
    `hako: unshare: options.namespaces[1]: unknown namespace 'mount' ${NS}`, 'options.namespaces[1]'],
  ['nsenter: no target', () => nsenter({ namespaces: ['uts'], command: ['true'] }),
    'hako: nsenter: options.target: is required', 'options.target'],
  ['nsenter: a string target', () => nsenter({ target: '1', namespaces: ['uts'], command: ['true'] }),
    "hako: nsenter: options.target: must be an integer from 1 to 2147483647 (got '1')", 'options.target'],
  ['nsenter: an unknown namespace name', () => nsenter({ target: 1, namespaces: ['mount'], command: ['true'] }),
    `hako: nsenter: options.namespaces[0]: unknown namespace 'mount' ${NS}`, 'options.namespaces[0]'],
  ['nsenter: a number for root', () => nsenter({ target: 1, root: 1, command: ['true'] }),
    'hako: nsenter: options.root: must be true, false or a path (got 1)', 'options.root'],
  ['nsenter: an unknown key', () => nsenter({ target: 1, namespaces: ['uts'], preserveCreds: true, command: ['true'] }),
    /^hako: nsenter: options\.preserveCreds: unknown option \(known: .*preserveCredentials.*\)$/, 'options.preserveCreds'],
  ['nsenterPlan: the same checks', () => nsenterPlan({ target: 0, namespaces: ['uts'] }),
    'hako: nsenter: options.target: must be an integer from 1 to 2147483647 (got 0)', 'options.target'],
  ['listNamespaces: an unknown type', () => listNamespaces({ type: 'network' }),
    `hako: listNamespaces: options.type: unknown namespace 'network' ${NS}`, 'options.type'],
  ['listNamespaces: an unknown key', () => listNamespaces({ relation: true }),
    'hako: listNamespaces: options.relation: unknown option (known: type, relations)', 'options.relation'],
  ['describeProcesses: a string pid', () => describeProcesses([process.pid, '1']),
    "hako: describeProcesses: pids[1]: must be an integer from 1 to 2147483647 (got '1')", 'pids[1]'],
  ['Runtime: a number for root', () => new Runtime({ root: 1 }),
    'hako: Runtime: options.root: must be a path (got 1)', 'options.root'],
  ['Runtime: an unknown cgroup version', () => new Runtime({ cgroupVersion: 3 }),
    'hako: Runtime: options.cgroupVersion: must be one of 1, 2 (got 3)', 'options.cgroupVersion'],
  ['Runtime: a string for warn', () => new Runtime({ warn: 'stderr' }),
    "hako: Runtime: options.warn: must be a function (got 'stderr')", 'options.warn'],
  ['Runtime: a string for zygote', () => new Runtime({ zygote: 'no' }),
    "hako: Runtime: options.zygote: must be true or false (got 'no')", 'options.zygote'],
  ['Runtime: an unknown key', () => new Runtime({ rootDir: '/run/x' }),
    'hako: Runtime: options.rootDir: unknown option (known: root, warn, cgroupVersion, onRemove, netDir, zygote)', 'options.rootDir'],
];

for (const [what, call, expected, path] of cases) {
  test(`refused: ${what}`, async () => {
    const before = children().length;
    await assert.rejects(async () => call(), (e) => {
      assert.ok(e instanceof OptionError && e instanceof HakoError, `not an OptionError: ${e?.stack ?? e}`);
      assert.equal(e.code, 'bad-option');
      assert.equal(e.exitCode, 1);
      assert.equal(e.path, path);
      assert.ok(!e.message.includes('\n'), `more than one line: ${e.message}`);
      if (typeof expected === 'string') assert.equal(e.message, expected);
      else assert.match(e.message, expected);
      return true;
    });
    assert.equal(children().length, before, 'a process was started');
  });
}

test('good options pass: the same calls with the names and types right', async () => {
  const { builder } = unsharePlan({ namespaces: ['uts', 'net'], mapUsers: [{ inside: 0, outside: 1000, count: 1 }], stdio: ['ignore', 'pipe', 1], env: { A: 'x', B: undefined }, command: ['true'], explain: () => {}, forwardSignals: ['SIGTERM', 'HUP'], killSignal: 9, maxBuffer: 0, timeoutMs: 1000, signal: new AbortController().signal });
  assert.ok(builder.nsOps.length > 0);
  assert.ok(new Runtime({ root: '/tmp/x', cgroupVersion: 1, warn: () => {} }));
  assert.ok(Array.isArray(await listNamespaces({ type: 'uts' })));
});
