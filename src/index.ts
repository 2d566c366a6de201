// The hako library: the namespace toolkit (and, later, the OCI runtime and the sandbox).
export { unshare, unsharePlan, type UnshareOptions, type Propagation } from './toolkit/unshare.js';
export { nsenter, nsenterPlan, type NsenterOptions } from './toolkit/nsenter.js';
export { listNamespaces, describeProcesses, processNamespaces, type NamespaceInfo, type ListOptions, type ProcessNamespaceRow } from './toolkit/ns.js';
export type { LaunchOptions, LaunchResult } from './toolkit/launch.js';
export { parseRange, checkMap, type IdRange } from './toolkit/idmap.js';
export { HakoError, HelperError, type HelperFailure } from './errors.js';
export { NAMESPACES, type NamespaceType } from './linux/namespaces.js';
