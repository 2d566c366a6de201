/// <reference types="node" preserve="true" />
// The hako library: the sandbox (untrusted commands with limits, verdicts and usage), the
// namespace toolkit and the OCI runtime.
export {
  Sandbox, SandboxPool, DENIED_SYSCALLS, type SandboxOptions, type SandboxPoolOptions, type SandboxRunOptions, type SandboxResult,
  type SandboxStatus, type SandboxUsage, type SandboxProcess, type SandboxMount, type SandboxLimits, type SandboxNetwork,
  type LimitSupport,
} from './sandbox/index.js';
export { unshare, unshareSpawn, unsharePlan, type UnshareOptions, type Propagation } from './toolkit/unshare.js';
export { nsenter, nsenterSpawn, nsenterPlan, type NsenterOptions } from './toolkit/nsenter.js';
export { listNamespaces, describeProcesses, processNamespaces, type NamespaceInfo, type ListOptions, type ProcessNamespaceRow } from './toolkit/ns.js';
export type { LaunchOptions, LaunchResult } from './toolkit/launch.js';
export type { NetworkStep } from './network/unshare.js';
export type { NetworkMode, PortMapping } from './network/index.js';
export { PlanBuilder } from './helper/plan-builder.js';
export { parseRange, checkMap, type IdRange, type IdMapPlan, type IdKind } from './toolkit/idmap.js';
export type { Field, FieldValue } from './helper/protocol.js';
export type { Op } from './helper/ops.js';
export { HakoError, HelperError, OptionError, ERROR_CODES, type ErrorCode, type HakoErrorOptions, type HelperFailure } from './errors.js';
export { ConfigError } from './config/check.js';
export { CgroupError } from './cgroups/files.js';
export { NAMESPACES, type NamespaceType, type NamespaceKind } from './linux/namespaces.js';
export {
  Runtime, type RuntimeOptions, type CreateOptions, type RunOptions, type ExecOptions, type ExecProcess, type RunResult, type ContainerStats,
  type EventsOptions, type RuncEvent,
} from './runtime/runtime.js';
export { HakoProcess } from './helper/handle.js';
export type { LateCommand } from './helper/session.js';
export type { OciState, ContainerStatus } from './runtime/state.js';
export type { StatsData } from './cgroups/stats.js';
export type { RuncStats, MemoryEntry, BlkioEntry, BlkioKey } from './cgroups/runc-stats.js';
export type * from './config/types.js';
export type {
  LinuxResources, LinuxDeviceCgroup, LinuxMemory, LinuxCPU, LinuxPids, LinuxBlockIO, LinuxBlockIODevice, LinuxWeightDevice,
  LinuxThrottleDevice, LinuxHugepageLimit, LinuxNetwork, LinuxInterfacePriority, LinuxRdma,
} from './cgroups/resources.js';
export { defaultSpec } from './config/default.js';
export {
  ImageStore, images, imageStore, type ImageConfig, type ResolvedImage, type ImageStoreOptions, type ImageSummary, type ImageDetails,
  type ProgressEvent, type PruneResult, type PullOptions, type LayerRecord,
} from './image/index.js';
