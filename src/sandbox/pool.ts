// Sandboxes made ahead of time: pool.run() takes a ready one, runs, and gives it back once its
// writable layer is reset (a fresh tmpfs and overlay) in the background; each run sees a clean sandbox.
// Each ready sandbox also has its next run's container made (Sandbox.prepare()): a run without limits
// of its own pays only for the exec.
import { HakoError } from '../errors.js';
import { checkOptions, POOL_OPTIONS } from './limits.js';
import { object } from '../options.js';
import { Sandbox, type SandboxOptions, type SandboxResult, type SandboxRunOptions } from './sandbox.js';

export interface SandboxPoolOptions extends SandboxOptions {
  /** How many sandboxes are kept ready. */
  size: number;
}

export class SandboxPool {
  private readonly idle: Sandbox[] = [];
  private readonly waiters: Array<(sb: Sandbox) => void> = [];
  private readonly all = new Set<Sandbox>();
  private readonly making = new Set<Promise<void>>();
  private closed = false;
  private readonly options: SandboxOptions;
  private failure: unknown;

  constructor(options: SandboxPoolOptions) {
    checkOptions('SandboxPool', options, object(POOL_OPTIONS, ['size']));
    const { size, ...rest } = options;
    this.options = rest;
    for (let i = 0; i < size; i++) this.refill();
  }

  private refill(): void {
    const p = Sandbox.create(this.options).then((sb) => {
      if (this.closed) return sb.close();
      this.all.add(sb);
      sb.prepare();
      this.give(sb);
      return undefined;
    }, (e) => { this.failure = e; for (const w of this.waiters.splice(0)) w(undefined as unknown as Sandbox); });
    const tracked = p.finally(() => this.making.delete(tracked));
    this.making.add(tracked);
  }

  private give(sb: Sandbox): void {
    const w = this.waiters.shift();
    if (w) w(sb);
    else this.idle.push(sb);
  }

  private take(): Promise<Sandbox> {
    if (this.closed) return Promise.reject(new HakoError('hako: SandboxPool: run after close()', { code: 'bad-state' }));
    const sb = this.idle.shift();
    if (sb) return Promise.resolve(sb);
    return new Promise<Sandbox>((resolve, reject) => this.waiters.push((s) => {
      if (s) resolve(s);
      else reject(this.failure instanceof Error ? this.failure : new HakoError('hako: SandboxPool: could not make a sandbox', { code: 'error' }));
    }));
  }

  /** Resolves once every sandbox of the pool is idle with its next run's container made (a run
   * then pays only for the exec, with nothing of the pool's refill running beside it); waits at
   * most timeoutMs (default 30 s), then resolves anyway. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < end) {
      if (this.making.size === 0 && this.idle.length === this.all.size && this.all.size > 0) {
        const prepared = await Promise.all(this.idle.map((sb) => sb.prepared()));
        if (prepared.every(Boolean)) return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Runs a command on a clean sandbox. */
  async run(argv: string[], options: SandboxRunOptions = {}): Promise<SandboxResult> {
    const sb = await this.take();
    try {
      return await sb.run(argv, options);
    } finally {
      // the used sandbox gets a fresh writable layer off the caller's path, then goes back
      void sb.reset().then(() => {
        if (this.closed) return sb.close();
        // its next run's container, made now: the next pool.run() pays only for the exec
        sb.prepare();
        this.give(sb);
        return undefined;
      }, async () => {
        this.all.delete(sb);
        await sb.close().catch(() => undefined);
        if (!this.closed) this.refill();
      });
    }
  }

  /** Closes every sandbox of the pool. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined as unknown as Sandbox);
    await Promise.all([...this.making]);
    await Promise.all([...this.all].map((sb) => sb.close()));
    this.idle.length = 0;
  }
}
