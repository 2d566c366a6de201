// The op lists of a plan, built with a readable description of each op (for --explain and for
// the one line a failure becomes).
import { Tag, type Field } from './protocol.js';
import { ops, type Op } from './ops.js';

function execOp(argv: string[], env: NodeJS.ProcessEnv): Op {
  const envList = Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined).map(([k, v]) => `${k}=${v}`);
  return ops.exec({ args: argv, env: envList });
}

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

  /** Where exec() put its op in initOps, and its argv (setExecEnv replaces the op). */
  private execAt?: { index: number; argv: string[] };

  exec(argv: string[], env: NodeJS.ProcessEnv): this {
    this.execAt = { index: this.initOps.length, argv };
    return this.init(execOp(argv, env), `execve(${argv.map((a) => JSON.stringify(a)).join(', ')})`);
  }

  /** The exec op again with another environment, every other op as it is. False when the plan
   * has no exec() op (a late exec's command comes later). */
  setExecEnv(env: NodeJS.ProcessEnv): boolean {
    if (!this.execAt) return false;
    const op = execOp(this.execAt.argv, env);
    this.initOps[this.execAt.index] = [{ tag: Tag.KIND, value: op.kind }, ...op.fields];
    return true;
  }

  describe(stage: string, index: number | undefined): string | undefined {
    if (index === undefined) return undefined;
    return (stage === 'ns' ? this.nsText : stage === 'init' ? this.initText : stage === 'host' ? this.hostText : [])[index];
  }
}
