// The sandbox face: untrusted commands with limits, verdicts and usage (issue 12).
export {
  Sandbox, type SandboxOptions, type SandboxRunOptions, type SandboxResult, type SandboxStatus, type SandboxUsage,
  type SandboxProcess, type SandboxMount, type SandboxLimits, type SandboxNetwork, type ResolvedImage,
} from './sandbox.js';
export { SandboxPool, type SandboxPoolOptions } from './pool.js';
export { DENIED_SYSCALLS } from './seccomp.js';
export type { LimitSupport } from './check.js';
