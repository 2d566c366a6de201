// The declarations as a TypeScript user meets them: a project that imports 'hako', with
// "types": [] (no @types/node named), compiles under --strict with the repo's TypeScript and with
// the newest major (typescript-next); and every type a public signature uses is exported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const INDEX = join(REPO, 'dist', 'types', 'index.d.ts');

const USE = `
import {
  unshare, nsenter, listNamespaces, unsharePlan, Runtime, HakoError, OptionError, ConfigError, HelperError, ERROR_CODES,
  defaultSpec, NAMESPACES,
  type UnshareOptions, type NsenterOptions, type ListOptions, type NamespaceInfo, type LaunchResult, type RuntimeOptions,
  type CreateOptions, type RunOptions, type ExecOptions, type RunResult, type ContainerStats, type OciState, type Spec,
  type Process, type LinuxResources, type ErrorCode, type NamespaceType, type StatsData, type User,
} from 'hako';

async function main(): Promise<void> {
  const u: UnshareOptions = { namespaces: ['uts', 'net'], hostname: 'x', command: ['true'], stdio: ['ignore', 'pipe', 'pipe'] };
  const r: LaunchResult = await unshare(u);
  const out: string = r.stdout?.toString() ?? '';
  const n: NsenterOptions = { target: r.pid, namespaces: ['uts'] };
  await nsenter(n);
  const l: ListOptions = { type: 'pid', relations: true };
  const list: NamespaceInfo[] = await listNamespaces(l);
  const t: NamespaceType | undefined = list[0]?.type;
  const ro: RuntimeOptions = { root: '/run/hako', cgroupVersion: 1, warn: (m: string) => void m };
  const rt = new Runtime(ro);
  const spec: Spec = defaultSpec({ rootless: false });
  const user: User = { uid: 0, gid: 0 };
  const c: CreateOptions = { spec, rootfs: '/rootfs', args: ['sh'], env: ['A=b'], cwd: '/', user, hostname: 'h' };
  await rt.create('a', c);
  const ro2: RunOptions = { ...c, detach: false, resources: { memory: { limit: 1 << 20 } } };
  const res: RunResult = await rt.run('b', ro2);
  const oom: boolean | undefined = res.oomKilled;
  const e: ExecOptions = { user: 'root', stdio: 'pipe' };
  const proc: Process = { args: ['true'], cwd: '/' };
  await rt.exec('b', proc, e);
  const st: ContainerStats = rt.stats('b');
  const data: StatsData = st.data;
  const used: number | undefined = data.memory?.usage.usage;
  const res2: LinuxResources = { pids: { limit: 10 } };
  rt.update('b', res2);
  const s: OciState = rt.state('b');
  const ps: number[] = rt.ps('b');
  void [out, t, oom, used, s, ps, unsharePlan(u).builder.nsOps.length, NAMESPACES.length];
  try { rt.kill('b', 'SIGTERM', true); } catch (err) {
    if (err instanceof OptionError) { const p: string = err.path; void p; }
    if (err instanceof ConfigError) { const p: string = err.path; void p; }
    if (err instanceof HelperError) { const errno: string = err.failure.errname; void errno; }
    if (err instanceof HakoError) { const code: ErrorCode = err.code; const known: boolean = ERROR_CODES.includes(code); void known; }
  }
}
void main;
`;

function project(name) {
  const dir = mkdtempSync(`/tmp/hako-types-${name}-`);
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(REPO, join(dir, 'node_modules', 'hako'));
  // the user's own @types/node, as a TypeScript project for Node has it (not named in "types")
  symlinkSync(join(REPO, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'use-hako', private: true, type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [], skipLibCheck: false, exactOptionalPropertyTypes: true },
    files: ['use.ts'],
  }));
  writeFileSync(join(dir, 'use.ts'), USE);
  return dir;
}

function compile(tsc, t) {
  if (!existsSync(tsc)) return t.skip(`${tsc} is not installed (npm ci)`);
  const dir = project('strict');
  try {
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('dist/types/index.d.ts references the Node types itself', () => {
  assert.match(readFileSync(INDEX, 'utf8'), /^\/\/\/ <reference types="node"/);
});

test("a strict project with \"types\": [] compiles against 'hako' with the repo's TypeScript", (t) => {
  compile(join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), t);
});

test("...and with the newest TypeScript major (typescript-next)", (t) => {
  compile(join(REPO, 'node_modules', 'typescript-next', 'bin', 'tsc'), t);
});

test('every type a public signature uses can be named from hako', () => {
  const ts = createRequire(import.meta.url)(join(REPO, 'node_modules', 'typescript'));
  const program = ts.createProgram([INDEX], { strict: true, types: ['node'], typeRoots: [join(REPO, 'node_modules', '@types')], module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
  const checker = program.getTypeChecker();
  const mod = checker.getSymbolAtLocation(program.getSourceFile(INDEX));
  const exported = new Set(checker.getExportsOfModule(mod).map((s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s)));
  const ours = (sym) => sym?.declarations?.some((d) => d.getSourceFile().fileName.startsWith(join(REPO, 'dist', 'types')));
  const missing = new Map();
  const seen = new Set();
  const visitType = (type, where) => {
    if (!type || seen.has(type)) return;
    seen.add(type);
    const sym = type.aliasSymbol ?? type.getSymbol();
    if (sym && ours(sym) && !exported.has(sym) && (sym.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Enum))) {
      if (!missing.has(sym.name)) missing.set(sym.name, where);
    }
    for (const a of type.aliasTypeArguments ?? []) visitType(a, where);
    // the Node and lib types (Buffer, Promise...) are not walked into, only their type arguments
    if (sym && !ours(sym) && !(sym.flags & (ts.SymbolFlags.TypeLiteral | ts.SymbolFlags.ObjectLiteral | ts.SymbolFlags.Function | ts.SymbolFlags.Method))) {
      for (const a of (type.flags & ts.TypeFlags.Object ? checker.getTypeArguments?.(type) : undefined) ?? []) visitType(a, where);
      return;
    }
    if (type.isUnionOrIntersection()) type.types.forEach((x) => visitType(x, where));
    if (type.flags & ts.TypeFlags.Object) {
      for (const a of checker.getTypeArguments?.(type) ?? []) visitType(a, where);
      for (const sig of [...type.getCallSignatures(), ...type.getConstructSignatures()]) visitSignature(sig, where);
      for (const p of type.getProperties()) visitSymbol(p, `${where}.${p.name}`);
    }
  };
  const visitSignature = (sig, where) => {
    for (const p of sig.getParameters()) visitSymbol(p, `${where}(${p.name})`);
    visitType(sig.getReturnType(), `${where}()`);
  };
  const visitSymbol = (sym, where) => {
    const decl = sym.valueDeclaration ?? sym.declarations?.[0];
    if (!decl) return;
    // private and protected class members are not part of the API
    if (decl.modifiers?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) return;
    visitType(checker.getTypeOfSymbolAtLocation(sym, decl), where);
  };
  for (const s of checker.getExportsOfModule(mod)) {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    const decl = target.declarations?.[0];
    if (!decl) continue;
    if (target.flags & ts.SymbolFlags.Value) visitType(checker.getTypeOfSymbolAtLocation(target, decl), s.name);
    if (target.flags & ts.SymbolFlags.Class) visitType(checker.getDeclaredTypeOfSymbol(target), s.name);
    if (target.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) visitType(checker.getDeclaredTypeOfSymbol(target), s.name);
  }
  assert.deepEqual([...missing].map(([name, where]) => `${name} (used by ${where})`), [], 'types used by the API but not exported from hako');
});

test('every option and result field has a doc comment', () => {
  const ts = createRequire(import.meta.url)(join(REPO, 'node_modules', 'typescript'));
  const program = ts.createProgram([INDEX], { types: [] });
  const checker = program.getTypeChecker();
  const mod = checker.getSymbolAtLocation(program.getSourceFile(INDEX));
  const undocumented = [];
  for (const s of checker.getExportsOfModule(mod)) {
    if (!/Options$|Result$|Row$|^ContainerStats$|^StatsData$|^NamespaceInfo$|^HelperFailure$|^IdRange$/.test(s.name)) continue;
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    for (const p of checker.getDeclaredTypeOfSymbol(target).getProperties()) {
      if (p.getDocumentationComment(checker).length === 0) undocumented.push(`${s.name}.${p.name}`);
    }
  }
  assert.deepEqual(undocumented, []);
});
