// The op lists of a plan, built with a readable description of each op (for --explain and for
// the one line a failure becomes).
import { Tag, type Field } from './protocol.js';
import { ops, type Op } from './ops.js';

/** Builds the two op lists, keeping a readable description of each op for explain and errors. */
export class PlanBuilder {
  readonly hostOps: Field[][] = [];
  readonly hostText: string[] = [];
  readonly nsOps: Field[][] = [];
  readonly initOps: Field[][] = [];
  readonly nsText: string[] = [];
  readonly initText: string[] = [];

  /** An op H0 runs on the host before it forks (fifo, console socket, relay). */
  host(op: Op, text: string): this {
    this.hostOps.push([{ tag: Tag.KIND, value: op.kind }, ...op.fields]);
    this.hostText.push(text);
    return this;
  }

  /** An op H1 runs: namespaces, id maps, the cgroup join. */
  ns(op: Op, text: string): this {
    this.nsOps.push([{ tag: Tag.KIND, value: op.kind }, ...op.fields]);
    this.nsText.push(text);
    return this;
  }

  /** An op H2 runs: the rootfs, the process, the exec. */
  init(op: Op, text: string): this {
    this.initOps.push([{ tag: Tag.KIND, value: op.kind }, ...op.fields]);
    this.initText.push(text);
    return this;
  }

  exec(argv: string[], env: NodeJS.ProcessEnv): this {
    const envList = Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined).map(([k, v]) => `${k}=${v}`);
    this.execAt = { index: this.initOps.length, args: argv, env: [...envList] };
    return this.init(ops.exec({ args: argv, env: envList }), `execve(${argv.map((a) => JSON.stringify(a)).join(', ')})`);
  }

  /** Sets NAME in the environment of the exec op where exec() gave it an entry NAME=...: that
   * entry's value is replaced, in place (the op made again as exec() makes it); without one,
   * nothing changes. */
  setExecEnv(name: string, value: string): this {
    const at = this.execAt;
    if (!at) return this;
    const i = at.env.findIndex((e) => e.startsWith(`${name}=`));
    if (i < 0) return this;
    at.env[i] = `${name}=${value}`;
    const op = ops.exec({ args: at.args, env: at.env });
    this.initOps[at.index] = [{ tag: Tag.KIND, value: op.kind }, ...op.fields];
    return this;
  }

  /** Where exec() put its op, and what it was made of. */
  private execAt?: { index: number; args: string[]; env: string[] };

  describe(stage: string, index: number | undefined): string | undefined {
    if (index === undefined) return undefined;
    return (stage === 'ns' ? this.nsText : stage === 'init' ? this.initText : stage === 'host' ? this.hostText : [])[index];
  }
}
