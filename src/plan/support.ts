// What hako's OCI runtime really implements, for `hako features` (config/features.ts shapes it).
import { CAPABILITIES, HOOK_NAMES, NAMESPACE_TYPES, SECCOMP_ARCHS, SECCOMP_OPERATORS } from '../config/known.js';
import { SUPPORT, type Support } from '../config/features.js';
import { supportedMountOptions } from './mountopts.js';

export function hakoSupport(): Support {
  // what is not listed here hako does not claim (apparmor, selinux, intelRdt, ...)
  return {
    ...SUPPORT,
    hooks: HOOK_NAMES,
    mountOptions: supportedMountOptions(),
    namespaces: NAMESPACE_TYPES,
    capabilities: CAPABILITIES,
    // v2: limits, freezer, stats and the device filter (eBPF)
    idmapMounts: true,
    // fields the features document has no place for (runtime-spec 1.2): named as annotations,
    // as runc names its own extras (org.opencontainers.runc.*)
    annotations: {
      'io.hako.process.ioPriority': 'true',
      'io.hako.process.scheduler': 'true',
      'io.hako.process.execCPUAffinity': 'true',
      'io.hako.linux.personality': 'true',
    },
    cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
    seccomp: {
      actions: ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY'],
      operators: SECCOMP_OPERATORS,
      archs: SECCOMP_ARCHS,
      knownFlags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      supportedFlags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
    },
  };
}
