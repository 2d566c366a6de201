// The OCI features document (features.md, features-linux.md; `runc features`). features() only
// shapes a Support record; what hako implements is src/plan/support.ts, and SUPPORT below is the
// record that claims nothing (the default, and the base the tests build on).
import type { HookName, LinuxNamespaceType, SeccompAction, SeccompArch, SeccompFlag, SeccompOperator } from './types.js';

export interface Support {
  hooks: readonly HookName[];
  /** Mount option names the runtime recognizes (not filesystem-specific data options). */
  mountOptions: readonly string[];
  namespaces: readonly LinuxNamespaceType[];
  capabilities: readonly string[];
  cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
  /** null: no seccomp support. */
  seccomp: null | {
    actions: readonly SeccompAction[];
    operators: readonly SeccompOperator[];
    archs: readonly SeccompArch[];
    knownFlags: readonly SeccompFlag[];
    supportedFlags: readonly SeccompFlag[];
  };
  apparmor: boolean;
  selinux: boolean;
  intelRdt: boolean;
  /** uidMappings/gidMappings on mounts. */
  idmapMounts: boolean;
  annotations: Readonly<Record<string, string>>;
  /** Annotation keys (a trailing "." marks a prefix) that change the runtime's behaviour unsafely. */
  potentiallyUnsafeConfigAnnotations: readonly string[];
}

/** A Support that claims nothing (hako's own is hakoSupport() in src/plan/support.ts). */
export const SUPPORT: Support = {
  hooks: [],
  mountOptions: [],
  namespaces: [],
  capabilities: [],
  cgroup: { v1: false, v2: false, systemd: false, systemdUser: false, rdma: false },
  seccomp: null,
  apparmor: false,
  selinux: false,
  intelRdt: false,
  idmapMounts: false,
  annotations: {},
  potentiallyUnsafeConfigAnnotations: [],
};

export const OCI_VERSION_MIN = '1.0.0';
export const OCI_VERSION_MAX = '1.2.0';

/** The document, with only properties runtime-spec 1.2.0 defines. */
export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: Support['cgroup'];
    seccomp: {
      enabled: boolean;
      actions?: string[];
      operators?: string[];
      archs?: string[];
      knownFlags?: string[];
      supportedFlags?: string[];
    };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
  };
  annotations: Record<string, string>;
  potentiallyUnsafeConfigAnnotations: string[];
}

const sorted = (list: readonly string[]): string[] => [...list].sort();

export function features(support: Support = SUPPORT): Features {
  const s = support.seccomp;
  return {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION_MAX,
    hooks: [...support.hooks],
    mountOptions: sorted(support.mountOptions),
    linux: {
      namespaces: sorted(support.namespaces),
      capabilities: [...support.capabilities],
      cgroup: { ...support.cgroup },
      seccomp: s
        ? {
            enabled: true,
            actions: sorted(s.actions),
            operators: sorted(s.operators),
            archs: sorted(s.archs),
            knownFlags: [...s.knownFlags],
            supportedFlags: [...s.supportedFlags],
          }
        : { enabled: false },
      apparmor: { enabled: support.apparmor },
      selinux: { enabled: support.selinux },
      intelRdt: { enabled: support.intelRdt },
      mountExtensions: { idmap: { enabled: support.idmapMounts } },
    },
    annotations: { ...support.annotations },
    potentiallyUnsafeConfigAnnotations: [...support.potentiallyUnsafeConfigAnnotations],
  };
}
