// The hako library: the namespace toolkit and the OCI runtime (the sandbox API comes next).
export { unshare, unshareSpawn, unsharePlan, type UnshareOptions, type Propagation } from './toolkit/unshare.js';
export { nsenter, nsenterSpawn, nsenterPlan, type NsenterOptions } from './toolkit/nsenter.js';
export { listNamespaces, describeProcesses, processNamespaces, type NamespaceInfo, type ListOptions, type ProcessNamespaceRow } from './toolkit/ns.js';
export type { LaunchOptions, LaunchResult } from './toolkit/launch.js';
export { parseRange, checkMap, type IdRange } from './toolkit/idmap.js';
export { HakoError, HelperError, type HelperFailure } from './errors.js';
export { HakoProcess } from './helper/handle.js';
export { NAMESPACES, type NamespaceType } from './linux/namespaces.js';
export { Runtime, type RuntimeOptions, type CreateOptions, type RunOptions, type ExecOptions, type RunResult } from './lifecycle/runtime.js';
export type { OciState, ContainerStatus } from './lifecycle/state.js';
export type { Spec, Process } from './spec/types.js';
export { defaultSpec } from './spec/default.js';
