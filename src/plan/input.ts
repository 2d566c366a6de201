// What the planners take: the config, and the facts about the host and the container that the
// runtime gathered before planning (the planners read nothing themselves).
import type { CgroupJoinPlan, CgroupSteps } from '../cgroups/manager.js';
import type { Process, Spec } from '../config/types.js';
import type { SeccompCompiled } from './seccomp.js';

export interface ConsoleChoice {
  /** Send the pty master to this socket (--console-socket). */
  socket?: string;
  /** Or relay it through the helper to hako's own stdio (run -t from a terminal). */
  relay?: boolean;
}

export interface ProcessPlanInput {
  process: Process;
  /** How the process joins the container's cgroup by itself (docs/PROTOCOL.md). */
  cgroup?: CgroupJoinPlan;
  console?: ConsoleChoice;
  /** setgroups(2) is denied where the process goes (hako runs rootless in a user namespace whose
   * /proc/self/setgroups is "deny", and the container has no user namespace of its own): the
   * supplementary groups are left as they are, as runc does, and additionalGids are refused. */
  setgroupsDenied?: boolean;
  /** The command (args, env, cwd) comes last, from hako (EXEC_WAIT): a container made ahead of
   * time, set up entirely before it is needed (Runtime's lateExec). */
  lateExec?: boolean;
  /** --preserve-fds: fds 3..3+N-1 stay open for the process. */
  preserveFds: number;
  /** HOME from the container's /etc/passwd, for a process whose env has none (default "/"):
   * looked up by the runtime (runtime/users.ts), never read by the planner. */
  home?: string;
  /** The bounding set hako itself runs with (its CapBnd), when the process has no user namespace
   * of its own: a capability asked for outside it is named if setting the capabilities fails. */
  hostBounding?: bigint;
}

/** A bind mount's source on the host, as the runtime found it (runtime/host.ts). */
export interface BindSource {
  kind: 'dir' | 'file' | 'missing';
  /** On a procfs (a bind onto /proc must be one, as runc checks). */
  procfs: boolean;
}

/**
 * What the create planner needs to know of the host, gathered by the runtime before planning
 * (runtime/host.ts): the planner reads no file itself, so it can be run on any facts.
 */
export interface HostFacts {
  /** /proc/kcore exists (then /dev/core links to it, as runc does). */
  kcore: boolean;
  /** hako itself runs in a user namespace (rootless podman runs it as root of the user's): devices
   * are bound from the host then, never made (mknod is refused there), as runc does. Absent: no. */
  inUserNs?: boolean;
  /** The namespaces joined by path (linux.namespaces[].path) that are hako's own ones, i.e. the
   * host's (runtime/host.ts compares each with /proc/self/ns and /proc/1/ns): a sysctl may not go
   * into those, and the host's mount namespace is never prepared as a container's. */
  joinedHostNs?: ReadonlySet<string>;
  /** AppArmor is enabled (a process.apparmorProfile is refused then, skipped otherwise). */
  apparmor: boolean;
  /** SELinux is enabled (labels are refused then, skipped otherwise). */
  selinux: boolean;
  /** Each bind mount's source (absolute, as bindSources() names them). */
  bindSources: ReadonlyMap<string, BindSource>;
}

export interface CreatePlanInput extends ProcessPlanInput {
  spec: Spec;
  /** Facts about the host (runtime/host.ts). */
  host: HostFacts;
  bundle: string;
  /** The bundle's root filesystem on the host. */
  rootfs: string;
  /** The exec.fifo path on the host; absent for `run`, which starts at once. */
  fifo?: string;
  /** H0 leaves once the container is ready (create, run -d). */
  detach: boolean;
  noPivot: boolean;
  /** State JSON for hooks the helper runs (createContainer, startContainer). */
  hookState: string;
  /** Stop where the prestart hooks run even without hooks: hako attaches the network there. */
  networkPause?: boolean;
  /** The runtime's compiled program of this config's seccomp filter, or its wish for it. */
  seccompCompiled?: SeccompCompiled;
  /** The container's cgroup, made by H0 (its first host ops) instead of by the runtime. */
  cgroupSteps?: CgroupSteps;
  /** The cgroup v2 device filter (eBPF), attached to the v2 directory before H1 is forked into it. */
  deviceProgram?: Buffer;
  /** Join a new session keyring named after the container (runc's default). */
  keyring?: string;
  /** v1 hierarchies to bind under a `cgroup` mount: name → host directory of this container's cgroup. */
  cgroupV1Dirs?: Array<{ name: string; host: string }>;
  cgroupV2?: boolean;
  /** After joining the mount namespace of linux.namespaces by path, unshare a new one (a copy of
   * it) and prepare the rootfs there, so that the joined one is never changed (a rootless
   * sandbox's runs join its keeper's namespace, which holds the overlay). Not an OCI field. */
  copyJoinedMount?: boolean;
}
