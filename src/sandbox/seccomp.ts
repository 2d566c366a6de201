// The sandbox's seccomp profile: stricter than a general container's. hako's runtime has no
// filter of its own by default (runc's neither: the client brings one), so this is the sandbox's
// whole filter: allow by default, and deny what untrusted code has no need of and what kernel
// escapes have gone through (io_uring, keyrings, bpf, userfaultfd, perf, ptrace, nested user
// namespaces). Only the native architecture is in the filter: a 32-bit (int 0x80) or x32 syscall
// is a foreign architecture to it and kills the process (libseccomp's bad-arch action).
import type { Seccomp, SeccompArch } from '../config/types.js';

const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;

/** Syscalls that fail with EPERM inside a sandbox. */
export const DENIED_SYSCALLS: readonly string[] = [
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  'keyctl', 'add_key', 'request_key',
  'bpf', 'userfaultfd', 'perf_event_open',
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd',
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module',
  'open_by_handle_at', 'name_to_handle_at', 'lookup_dcookie', 'fanotify_init',
  'mount', 'umount2', 'pivot_root', 'move_mount', 'open_tree', 'fsopen', 'fsmount', 'fspick', 'mount_setattr',
  'setns', 'swapon', 'swapoff', 'reboot', 'syslog', 'acct', 'quotactl', 'quotactl_fd',
  'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'vhangup',
];

function archNative(): SeccompArch {
  switch (process.arch) {
    case 'x64': return 'SCMP_ARCH_X86_64';
    case 'arm64': return 'SCMP_ARCH_AARCH64';
    case 'ppc64': return 'SCMP_ARCH_PPC64LE';
    case 's390x': return 'SCMP_ARCH_S390X';
    case 'riscv64': return 'SCMP_ARCH_RISCV64';
    default: return `SCMP_ARCH_${process.arch.toUpperCase()}` as SeccompArch;
  }
}

/** The profile, as linux.seccomp of a config. */
export function sandboxSeccomp(): Seccomp {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: [archNative()],
    syscalls: [
      { names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      // a new user namespace, by unshare or clone (clone3's flags are in memory, which seccomp
      // cannot read: clone3 says ENOSYS, and libcs fall back to clone, as Docker's profile does)
      { names: ['unshare'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: process.arch === 's390x' ? 1 : 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ],
  };
}
