// Every command and flag of the CLI, once: the parsers take their option specs from here, and
// --help, the man page (hako help --man) and shell completion (hako completion) are made from
// the same table, so they cannot list a flag the parser does not take, nor miss one it does.
import type { OptionSpec } from './args.js';
import { NS_OPTIONS } from './common.js';

export interface Command {
  name: string;
  /** What follows `hako NAME [options]` in the usage line. */
  operands: string;
  /** One line, for the command list. */
  summary: string;
  /** More lines after the usage, if any. */
  description?: string;
  specs: OptionSpec[];
  /** Text after the options (exit status, notes). */
  notes?: string;
  examples: string[];
  /** Options end at the first operand (exec ID CMD..., unshare CMD...): later words are the command's. */
  stopAtFirstArg?: boolean;
  /** Where the command is listed in the top-level help. */
  group: 'sandbox' | 'toolkit' | 'image' | 'runtime' | 'other';
}

const HELP: OptionSpec = { long: 'help', short: 'h', help: 'show this help' };

/** runc's options of checkpoint and restore (accepted, so that the refusal says the real reason). */
const CRIU_SPECS: OptionSpec[] = [
  { long: 'image-path', arg: 'required', value: 'DIR', help: "runc's: where the CRIU image goes (refused with the verb)" },
  { long: 'work-path', arg: 'required', value: 'DIR', help: "runc's; refused with the verb" },
  { long: 'tcp-established', help: "runc's; refused with the verb" },
  { long: 'ext-unix-sk', help: "runc's; refused with the verb" },
  { long: 'shell-job', help: "runc's; refused with the verb" },
  { long: 'file-locks', help: "runc's; refused with the verb" },
  { long: 'manage-cgroups-mode', arg: 'required', value: 'MODE', help: "runc's; refused with the verb" },
];

/** runc's global options, before the command. */
export const GLOBAL_SPECS: OptionSpec[] = [
  { long: 'root', arg: 'required', value: 'DIR', help: 'where container state is kept (default /run/hako; $XDG_RUNTIME_DIR/hako when not real root, as runc)' },
  { long: 'log', arg: 'required', value: 'FILE', help: 'also write errors (and with --debug, each command) to FILE' },
  { long: 'log-format', arg: 'required', value: 'text|json', help: "the --log format: text, or json lines as containerd's shim reads them" },
  { long: 'debug', help: 'log each command to --log' },
  { long: 'rootless', arg: 'required', value: 'auto|true|false', help: 'accepted for runc compatibility (hako runs rootless when it is not real root, by runc\'s rule)' },
  { long: 'systemd-cgroup', help: 'refused: there is no systemd cgroup manager here (cgroupfs is used)' },
  { long: 'criu', arg: 'required', value: 'PATH', help: "the CRIU program checkpoint and restore would use (they are refused, naming why: see 'hako checkpoint --help')" },
  { long: 'help', short: 'h', help: 'show this help' },
  { long: 'version', short: 'v', help: "print hako's version and the OCI runtime-spec version it implements" },
];

const CREATE_SPECS: OptionSpec[] = [
  { long: 'bundle', short: 'b', arg: 'required', value: 'DIR', help: 'the bundle: a directory with config.json and the rootfs (default: the current directory)' },
  { long: 'pid-file', arg: 'required', value: 'FILE', help: "write the container's init pid to FILE" },
  { long: 'console-socket', arg: 'required', value: 'PATH', help: "send the pty master of a terminal container to this unix socket" },
  { long: 'no-pivot', help: 'use chroot-like MS_MOVE instead of pivot_root (for a rootfs on a ramdisk)' },
  { long: 'no-new-keyring', help: 'keep the session keyring instead of making a new one' },
  { long: 'preserve-fds', arg: 'required', value: 'N', help: 'pass N more fds (3 to 3+N-1) to the container' },
  { long: 'network', arg: 'required', value: 'MODE', help: "none, host, ns:PATH, a network NAME (CNI; bridge is built in), slirp4netns or pasta (user-mode, no root needed); without it the config's namespaces decide" },
  { long: 'publish', short: 'p', arg: 'required', value: '[IP:]HPORT:CPORT[/udp]', help: 'with --network NAME, slirp4netns or pasta: publish a container port on the host (repeatable)' },
  { long: 'explain', help: "show the network's steps as they happen (the kept namespace, each CNI plugin: veth, address, route, port rules)" },
  { long: 'net-dir', arg: 'required', value: 'DIR', help: 'the network configs for --network NAME (default $HAKO_NET_DIR, /etc/hako/net.d for root)' },
];

const UPDATE_SPECS: OptionSpec[] = [
  { long: 'resources', short: 'r', arg: 'required', value: 'FILE', help: 'a JSON file of linux.resources (- for stdin)' },
  { long: 'memory', arg: 'required', value: 'SIZE', help: 'memory limit: bytes or with a unit (512k, 50M, 1g; -1 for none)' },
  { long: 'memory-reservation', arg: 'required', value: 'SIZE', help: 'memory soft limit (bytes or with a unit)' },
  { long: 'memory-swap', arg: 'required', value: 'SIZE', help: 'memory plus swap limit (bytes or with a unit; -1 for none)' },
  { long: 'cpu-shares', arg: 'required', value: 'N', help: 'relative CPU weight' },
  { long: 'cpu-quota', arg: 'required', value: 'USEC', help: 'CPU time per period, in microseconds (-1 for none)' },
  { long: 'cpu-period', arg: 'required', value: 'USEC', help: 'the CPU quota period, in microseconds' },
  { long: 'cpuset-cpus', arg: 'required', value: 'LIST', help: 'CPUs it may run on (0-3,5)' },
  { long: 'cpuset-mems', arg: 'required', value: 'LIST', help: 'memory nodes it may use (0,1)' },
  { long: 'pids-limit', arg: 'required', value: 'N', help: 'the most processes it may have (-1 for none)' },
  { long: 'blkio-weight', arg: 'required', value: 'N', help: 'relative block IO weight (10 to 1000)' },
];

const EXEC_SPECS: OptionSpec[] = [
  { long: 'process', short: 'p', arg: 'required', value: 'FILE', help: 'a process.json (as config.json\'s process) instead of the command and flags' },
  { long: 'tty', short: 't', help: 'give the process a terminal' },
  { long: 'console-socket', arg: 'required', value: 'PATH', help: 'with --tty, send the pty master to this unix socket' },
  { long: 'cwd', arg: 'required', value: 'DIR', help: 'its working directory in the container' },
  { long: 'env', short: 'e', arg: 'required', value: 'NAME=VALUE', help: 'add to its environment (repeatable)' },
  { long: 'user', short: 'u', arg: 'required', value: 'UID[:GID]', help: "run as this user (a number, or a name from the container's /etc/passwd)" },
  { long: 'additional-gids', short: 'g', arg: 'required', value: 'GID', help: 'an extra group (repeatable)' },
  { long: 'cap', short: 'c', arg: 'required', value: 'CAP', help: 'add a capability (repeatable)' },
  { long: 'no-new-privs', help: 'set no_new_privs' },
  { long: 'detach', short: 'd', help: 'do not wait for it' },
  { long: 'pid-file', arg: 'required', value: 'FILE', help: "write the process's pid to FILE" },
  { long: 'preserve-fds', arg: 'required', value: 'N', help: 'pass N more fds (3 to 3+N-1) to it' },
  { long: 'apparmor', arg: 'required', value: 'PROFILE', help: 'accepted for runc compatibility and ignored (hako sets no AppArmor profile)' },
  { long: 'process-label', arg: 'required', value: 'LABEL', help: 'accepted for runc compatibility and ignored (hako sets no SELinux label)' },
  { long: 'ignore-paused', help: 'accepted for runc compatibility and ignored' },
  { long: 'cgroup', arg: 'required', value: 'PATH', help: "accepted for runc compatibility and ignored (the container's own cgroup is used)" },
];

const UNSHARE_NS_HELP: Record<string, string> = {
  uts: 'hostname and domain name', ipc: 'System V IPC, POSIX queues', pid: 'process ids, the command PID 1',
  mount: 'mount points', net: 'network (only lo, up)', user: 'user and group ids', cgroup: 'cgroup root',
  time: 'monotonic and boot clocks',
};

const UNSHARE_SPECS: OptionSpec[] = [
  ...NS_OPTIONS.map(([long, short]) => ({ long, short, arg: 'optional' as const, value: 'FILE', help: `new ${long} namespace: ${UNSHARE_NS_HELP[long] ?? ''}` })),
  { long: 'all', help: 'all of the namespaces above' },
  { long: 'mount-proc', arg: 'optional', value: 'DIR', help: 'mount a new proc at DIR (/proc); implies --mount' },
  { long: 'propagation', arg: 'required', value: 'MODE', help: 'mount propagation: private (default), shared, slave or unchanged' },
  { long: 'hostname', arg: 'required', value: 'NAME', help: 'set the hostname (implies --uts)' },
  { long: 'domainname', arg: 'required', value: 'NAME', help: 'set the NIS domain name (implies --uts)' },
  { long: 'map-root-user', short: 'r', help: 'map your uid and gid to 0 inside' },
  { long: 'map-current-user', short: 'c', help: 'map your uid and gid to themselves' },
  { long: 'map-user', arg: 'required', value: 'UID|NAME', help: 'map your uid to this one inside' },
  { long: 'map-group', arg: 'required', value: 'GID|NAME', help: 'map your gid to this one inside' },
  { long: 'map-users', arg: 'required', value: 'IN:OUT:N', help: 'map a uid range (repeatable; newuidmap when not root)' },
  { long: 'map-groups', arg: 'required', value: 'IN:OUT:N', help: 'map a gid range (repeatable; newgidmap when not root)' },
  { long: 'map-auto', help: 'map your ranges from /etc/subuid and /etc/subgid' },
  { long: 'setgroups', arg: 'required', value: 'allow|deny', help: 'allow or deny setgroups(2) in the user namespace' },
  { long: 'monotonic', arg: 'required', value: 'SECONDS', help: 'offset of the monotonic clock (implies --time)' },
  { long: 'boottime', arg: 'required', value: 'SECONDS', help: 'offset of the boot clock (implies --time)' },
  { long: 'root', short: 'R', arg: 'required', value: 'DIR', help: 'chroot to DIR before running the command' },
  { long: 'wd', short: 'w', arg: 'required', value: 'DIR', help: 'chdir to DIR before running the command' },
  { long: 'fork', short: 'f', help: 'fork before running the command (always done: it runs in a child)' },
  { long: 'kill-child', arg: 'optional', value: 'SIGNAL', help: 'kill the command (SIGKILL) if hako dies' },
  { long: 'network', arg: 'required', value: 'MODE', help: 'none (new, only lo), host, ns:PATH (join it), a network NAME (new, attached by CNI; bridge is built in), or slirp4netns or pasta (user-mode, no root needed)' },
  { long: 'publish', arg: 'required', value: '[IP:]HPORT:CPORT[/udp]', help: 'with --network NAME, slirp4netns or pasta: publish a port of the command on the host (repeatable)' },
  { long: 'net-dir', arg: 'required', value: 'DIR', help: 'network configs (default /etc/hako/net.d; $HAKO_NET_DIR)' },
  { long: 'explain', help: 'show each step as it happens' },
  HELP,
  { long: 'version', short: 'V', help: "print hako's version" },
];

const NSENTER_SPECS: OptionSpec[] = [
  { long: 'target', short: 't', arg: 'required', value: 'PID', help: 'the process whose namespaces to enter' },
  { long: 'all', short: 'a', help: 'all of its namespaces (its user namespace only if it is not yours)' },
  ...NS_OPTIONS.map(([long, short]) => ({ long, short, arg: 'optional' as const, value: 'FILE', help: `enter its ${long} namespace` })),
  { long: 'preserve-credentials', help: 'keep your uid and gid after entering a user namespace' },
  { long: 'root', short: 'r', arg: 'optional', value: 'DIR', help: "chroot to the target's root (or DIR)" },
  { long: 'wd', short: 'w', arg: 'optional', value: 'DIR', help: "chdir to the target's working directory (or DIR)" },
  { long: 'explain', help: 'show each step as it happens' },
  HELP,
];

const NS_SPECS: OptionSpec[] = [
  { long: 'type', short: 't', arg: 'required', value: 'TYPE', help: 'only this type: user mnt pid net uts ipc cgroup time' },
  { long: 'json', short: 'J', help: 'JSON for programs' },
  { long: 'tree', short: 'T', help: 'user namespaces as a tree, with the namespaces each one owns' },
  HELP,
];

const EXIT_STATUS = "Exit status: the command's; 128+N if signal N killed it; 126 not executable; 127 not found.";

export const COMMANDS: Command[] = [
  {
    name: 'unshare', group: 'toolkit', operands: '[--] [command [args...]]', stopAtFirstArg: true,
    summary: 'run a command in new namespaces',
    description: 'Run a command (default: $SHELL) in new namespaces. Safe for the host by default:\n'
      + 'mounts made inside never propagate out, and --mount-proc gets its own mount namespace.',
    specs: UNSHARE_SPECS, notes: `A namespace kept in a file (--net=FILE) is not supported yet.\n${EXIT_STATUS}`,
    examples: ['hako unshare --pid --mount-proc --uts --hostname box -- sh', 'hako unshare -r --net ip -brief link',
      'hako unshare --network bridge -- wget -qO- http://example.com', 'hako unshare --network bridge --publish 8080:80 -- busybox httpd -f -p 80'],
  },
  {
    name: 'nsenter', group: 'toolkit', operands: '-t PID [--] [command [args...]]', stopAtFirstArg: true,
    summary: 'run a command in the namespaces of a running process',
    description: 'Run a command (default: $SHELL) in the namespaces of process PID.',
    specs: NSENTER_SPECS, notes: `A namespace given by file (--net=FILE) is not supported yet.\nEntering a PID namespace forks, so that the command is really inside it.\n${EXIT_STATUS}`,
    examples: ['hako nsenter -t 1234 --uts --net -- ip addr', 'hako nsenter -t 1234 --all --root --wd -- sh'],
  },
  {
    name: 'ns', group: 'toolkit', operands: '[PID...]',
    summary: 'list namespaces, as lsns does',
    description: 'List namespaces, as lsns does: NS (inode), TYPE, NPROCS, PID (lowest), USER, COMMAND.\n'
      + "Given PIDs, show each of their namespaces and mark with * those that differ from PID 1's\n"
      + "(or hako's own, where PID 1's cannot be read).",
    specs: NS_SPECS, examples: ['hako ns --type net', 'hako ns --tree', 'hako ns 1234'],
  },
  {
    name: 'sandbox', group: 'sandbox', operands: 'run [options] -- CMD [ARGS...] | check | prune',
    summary: 'run untrusted commands with hard limits; a verdict and usage',
    description: 'Run a command in a fresh sandbox: an overlay on a read-only image (--image) or rootfs, a writable layer on a tmpfs\n'
      + 'of --disk, new namespaces (no network unless --network), a cgroup with the limits, no capabilities, a strict seccomp filter.\n'
      + '  run     run CMD; the exit status is its own (128+N for a signal); --json prints one object:\n'
      + '          status (ok, exit, signal, timeout, cpu-time, memory, output-limit, error), exitCode, signal, usage\n'
      + '  check   which limits are enforced on this host, and why\n'
      + '  prune   remove what sandboxes of killed processes left (mounts, cgroups, state)',
    specs: [
      { long: 'image', arg: 'required', value: 'REF', help: 'run: the image (of `hako image ls`) whose layers are the read-only base' },
      { long: 'image-root', arg: 'required', value: 'DIR', help: 'run: the image store ($HAKO_IMAGE_ROOT)' },
      { long: 'rootfs', arg: 'required', value: 'DIR', help: 'run: the read-only base filesystem (instead of --image)' },
      { long: 'memory', arg: 'required', value: 'SIZE', help: 'run: memory limit (cgroup), e.g. 256M (default 256M)' },
      { long: 'pids', arg: 'required', value: 'N', help: 'run: most processes and threads at once (default 128)' },
      { long: 'cpus', arg: 'required', value: 'X', help: 'run: CPU bandwidth, e.g. 0.5 (default: no quota)' },
      { long: 'time', arg: 'required', value: 'DURATION', help: 'run: CPU time limit, e.g. 2s or 500ms (verdict cpu-time)' },
      { long: 'wall-time', arg: 'required', value: 'DURATION', help: 'run: wall-clock limit (verdict timeout; default 10s)' },
      { long: 'output-limit', arg: 'required', value: 'SIZE', help: 'run: stdout and stderr together (verdict output-limit; default 1M)' },
      { long: 'disk', arg: 'required', value: 'SIZE', help: 'run: the writable layer, /tmp and /dev/shm (default 64M)' },
      { long: 'network', arg: 'required', value: 'MODE', help: 'run: none (the default), slirp4netns, pasta, or a CNI network\'s NAME (root)' },
      { long: 'net-dir', arg: 'required', value: 'DIR', help: 'run: the network configs for --network NAME ($HAKO_NET_DIR)' },
      { long: 'network-host', help: "run: let the sandbox reach the host's own addresses (link-local ones stay unreachable)" },
      { long: 'mount', arg: 'required', value: 'SRC:DST[:ro|rw]', help: 'run: bind a host path (read-only unless :rw; repeatable)' },
      { long: 'env', short: 'e', arg: 'required', value: 'K=V', help: 'run: an environment variable (repeatable)' },
      { long: 'user', short: 'u', arg: 'required', value: 'UID|USER[:GROUP]', help: 'run: the user (default 0, without capabilities)' },
      { long: 'workdir', short: 'w', arg: 'required', value: 'DIR', help: 'run: the working directory inside' },
      { long: 'best-effort', help: 'run, without root: run even when a limit asked for (--memory, --cpus) cannot be enforced here (see check)' },
      { long: 'json', help: 'run, check: one JSON object on stdout' },
      { long: 'sandbox-root', arg: 'required', value: 'DIR', help: "sandboxes' state (default /run/hako/sandbox; without root $XDG_RUNTIME_DIR/hako/sandbox)" },
      HELP,
    ],
    examples: ['hako sandbox run --rootfs /srv/bb --memory 64M --time 1s --json -- sh -c "while :; do :; done"', 'hako image import bb.tar && hako sandbox run --image localhost/bb -- id', 'hako sandbox check', 'hako sandbox prune'],
  },
  {
    name: 'net', group: 'toolkit', operands: 'create NAME | ls | inspect NAME|CONTAINER | rm NAME | prune',
    summary: 'CNI networks: create, list, inspect, remove',
    description: 'Manage the CNI networks that --network NAME attaches to: conflists in the network config\n'
      + 'directory (/etc/hako/net.d for root, $XDG_CONFIG_HOME/hako/net.d otherwise). `bridge` (bridge hako0,\n'
      + '10.89.0.0/16, NAT) is built in. A conflist written by hand or copied from podman works too.\n'
      + '  create NAME   write NAME.conflist: a bridge with host-local addresses, portmap and firewall\n'
      + '  ls            the networks: name, bridge, subnet, file\n'
      + '  inspect NAME  the conflist, and the namespaces attached (addresses, MACs, ports)\n'
      + '  inspect CONTAINER  a container\'s attachment (of --root): network, addresses, MACs, gateway, ports\n'
      + '  rm NAME       remove a network (refused while something is attached)\n'
      + '  prune         detach what a killed hako left attached, then remove every network nothing\n'
      + '                is attached to (the built-in one stays)',
    specs: [
      { long: 'subnet', arg: 'required', value: 'CIDR', help: 'create: the IPv4 subnet (default: the first free 10.90.N.0/24)' },
      { long: 'gateway', arg: 'required', value: 'IP', help: "create: the bridge's address (default: the subnet's first)" },
      { long: 'bridge', arg: 'required', value: 'IFNAME', help: 'create: the bridge interface (default: the first free hakoN)' },
      { long: 'internal', help: 'create: no gateway, no NAT: only the containers on it reach each other' },
      { long: 'format', short: 'f', arg: 'required', value: 'table|json', help: 'ls and inspect: table (default) or json' },
      { long: 'net-dir', arg: 'required', value: 'DIR', help: 'the network config directory ($HAKO_NET_DIR)' },
      HELP,
    ],
    examples: ['hako net create --subnet 10.90.1.0/24 backend', 'hako net ls', 'hako net inspect bridge --format json', 'hako net rm backend'],
  },
  {
    name: 'image', group: 'image', operands: 'import FILE|DIR | pull REF | ls | inspect REF | rm REF | prune',
    summary: 'images: import, pull, list, inspect, remove',
    description: 'Manage the image store the sandbox runs images from: blobs named by their sha256 (checked on\n'
      + 'every write) and layers unpacked once each, shared by every image that has them. The store is\n'
      + '/var/lib/hako as root, $XDG_DATA_HOME/hako (~/.local/share/hako) otherwise.\n'
      + '  import FILE|DIR  a docker-archive (podman/docker save), an oci-archive, or an OCI layout directory\n'
      + '  pull REF         from an OCI registry (http for localhost and 127.0.0.1, https otherwise)\n'
      + '  ls               the images: name, id, created, size\n'
      + '  inspect REF      the image: digest, config (env, user, workdir, entrypoint, cmd), layers\n'
      + '  rm REF           remove a name (the image goes with its last name), or an image by id or digest\n'
      + '  prune            remove layers and blobs no image uses, and what a killed import left\n'
      + 'REF: name[:tag] (busybox is docker.io/library/busybox:latest; localhost/NAME:TAG stays), name@sha256:...,\n'
      + 'sha256:..., or the start of an image id.',
    specs: [
      { long: 'tag', short: 't', arg: 'required', value: 'REF', help: 'import: name the image REF (an archive of one image)' },
      { long: 'tls-verify', arg: 'optional', value: 'BOOL', help: "pull: check the registry's certificate (default true; --tls-verify=false does not)" },
      { long: 'creds', arg: 'required', value: 'USER:PASSWORD', help: 'pull: credentials for the registry or its token server ($HAKO_REGISTRY_AUTH)' },
      { long: 'format', short: 'f', arg: 'required', value: 'table|json', help: 'ls and inspect: table (default for ls) or json' },
      { long: 'quiet', short: 'q', help: 'ls: ids only; import and pull: no progress bar' },
      { long: 'image-root', arg: 'required', value: 'DIR', help: 'the store directory ($HAKO_IMAGE_ROOT)' },
      HELP,
    ],
    examples: ['hako image import busybox.tar --tag localhost/busybox:1', 'hako image pull 127.0.0.1:5000/app:1', 'hako image ls',
      'hako image inspect localhost/busybox:1', 'hako image rm localhost/busybox:1', 'hako image prune'],
  },
  {
    name: 'spec', group: 'runtime', operands: '',
    summary: 'write a default config.json', description: "Write runc's default config.json into the bundle directory.",
    specs: [
      { long: 'bundle', short: 'b', arg: 'required', value: 'DIR', help: 'where to write config.json (default: the current directory)' },
      { long: 'rootless', help: 'the config for a user without root: a user namespace mapping your ids' }, HELP,
    ],
    examples: ['hako spec --bundle /srv/bundles/busybox'],
  },
  {
    name: 'create', group: 'runtime', operands: 'ID',
    summary: 'create a container', description: 'Create a container from a bundle: its process waits for `hako start ID`.',
    specs: [...CREATE_SPECS, HELP], examples: ['hako create --bundle /srv/bundles/busybox --pid-file /run/c1.pid c1'],
  },
  {
    name: 'start', group: 'runtime', operands: 'ID',
    summary: 'start a created container', description: 'Run the process of a created container.',
    specs: [HELP], examples: ['hako start c1'],
  },
  {
    name: 'run', group: 'runtime', operands: 'ID',
    summary: 'create and start a container',
    description: 'Create and start a container. In the foreground, stdio and signals are relayed and hako\n'
      + "exits with the container's status (128+N if signal N ended it); then the container is deleted.",
    specs: [...CREATE_SPECS, { long: 'detach', short: 'd', help: 'leave it running and return' },
      { long: 'keep', help: 'do not delete the container when it ends' }, HELP],
    examples: ['hako run --bundle /srv/bundles/busybox c1'],
  },
  {
    name: 'exec', group: 'runtime', operands: 'ID [command [args...]]', stopAtFirstArg: true,
    summary: 'run a process in a container',
    description: "Run a process in a running container, by default with config.json's process settings.",
    specs: [...EXEC_SPECS, HELP], notes: "Exit status: the process's; 255 if hako could not run it.",
    examples: ['hako exec -t c1 sh', 'hako exec -e DEBUG=1 --cwd /tmp c1 ls -l'],
  },
  {
    name: 'state', group: 'runtime', operands: 'ID',
    summary: "a container's state (JSON)", description: "Print a container's state as the OCI runtime-spec defines it.",
    specs: [HELP], examples: ['hako state c1'],
  },
  {
    name: 'list', group: 'runtime', operands: '',
    summary: 'list containers', description: 'List the containers under --root.',
    specs: [
      { long: 'format', short: 'f', arg: 'required', value: 'table|json', help: 'table (default) or json' },
      { long: 'quiet', short: 'q', help: 'only the ids' }, HELP,
    ],
    examples: ['hako list', 'hako --root /run/other list --format json'],
  },
  {
    name: 'kill', group: 'runtime', operands: 'ID [SIGNAL]',
    summary: 'signal a container', description: "Send SIGNAL (default SIGTERM; a name with or without SIG, or a number) to a container's init.",
    specs: [{ long: 'all', short: 'a', help: 'send it to every process of the container' }, HELP],
    examples: ['hako kill c1', 'hako kill c1 KILL'],
  },
  {
    name: 'delete', group: 'runtime', operands: 'ID',
    summary: 'remove a container', description: 'Remove a stopped (or, with --force, any) container and what it holds.',
    specs: [{ long: 'force', short: 'f', help: 'kill it first if it is still running' }, HELP],
    examples: ['hako delete c1', 'hako delete --force c1'],
  },
  {
    name: 'ps', group: 'runtime', operands: 'ID [ps options...]', stopAtFirstArg: true,
    summary: 'processes of a container',
    description: "Show a container's processes: the host's ps (with the options given after the id, -ef by\ndefault), only their lines.",
    specs: [{ long: 'format', short: 'f', arg: 'required', value: 'table|json', help: 'table (default) or json (a list of pids)' }, HELP],
    examples: ['hako ps c1', 'hako ps c1 -o pid,comm'],
  },
  {
    name: 'events', group: 'runtime', operands: 'ID',
    summary: "a container's stats and OOM events (JSON lines)",
    description: "Print runc's events for a container, one JSON object a line: its cgroup figures\n({\"type\":\"stats\",\"id\":...,\"data\":{...}}, as runc) every --interval, and {\"type\":\"oom\",\"id\":...}\nwhen the OOM killer acts in its cgroup, until the container stops or is deleted.",
    specs: [
      { long: 'stats', help: 'print one stats event and exit' },
      { long: 'interval', arg: 'required', value: 'DURATION', help: 'how often to print stats (default 5s)' },
      HELP,
    ],
    examples: ['hako events --stats c1', 'hako events --interval 1s c1'],
  },
  {
    name: 'checkpoint', group: 'runtime', operands: 'ID',
    summary: 'refused: checkpoint a container with CRIU (not implemented)',
    description: "runc's checkpoint. hako does not implement checkpoint and restore yet: it refuses with\none line that says why on this host (CRIU missing, or what `criu check` reports).",
    specs: [...CRIU_SPECS, { long: 'leave-running', help: "runc's; refused with the verb" }, { long: 'pre-dump', help: "runc's; refused with the verb" }, HELP],
    examples: ['hako checkpoint --image-path /tmp/img c1'],
  },
  {
    name: 'restore', group: 'runtime', operands: 'ID',
    summary: 'refused: restore a container from a CRIU image (not implemented)',
    description: "runc's restore. Refused as checkpoint is, naming why on this host.",
    specs: [...CRIU_SPECS, { long: 'bundle', short: 'b', arg: 'required', value: 'DIR', help: "runc's; refused with the verb" },
      { long: 'detach', short: 'd', help: "runc's; refused with the verb" }, { long: 'pid-file', arg: 'required', value: 'FILE', help: "runc's; refused with the verb" },
      { long: 'console-socket', arg: 'required', value: 'PATH', help: "runc's; refused with the verb" }, HELP],
    examples: ['hako restore --image-path /tmp/img -b /srv/b c1'],
  },
  {
    name: 'pause', group: 'runtime', operands: 'ID',
    summary: 'freeze a container', description: "Freeze every process of a container (the cgroup freezer).",
    specs: [HELP], examples: ['hako pause c1'],
  },
  {
    name: 'resume', group: 'runtime', operands: 'ID',
    summary: 'thaw a paused container', description: 'Thaw a paused container.',
    specs: [HELP], examples: ['hako resume c1'],
  },
  {
    name: 'update', group: 'runtime', operands: 'ID',
    summary: "change a container's resources",
    description: "Change a running container's cgroup limits, from a resources file and/or these flags.",
    specs: [...UPDATE_SPECS, HELP], examples: ['hako update --memory 512M --pids-limit 100 c1'],
  },
  {
    name: 'features', group: 'runtime', operands: '',
    summary: 'what hako supports (JSON)', description: 'Print what hako supports, as the OCI runtime-spec features document.',
    specs: [HELP], examples: ['hako features'],
  },
  {
    name: 'serve', group: 'other', operands: '',
    summary: 'keep hako warm for bin/hako (optional)',
    description: 'Listen on a unix socket (mode 0600, this user only) and run the commands bin/hako sends there in\n'
      + 'Node processes started beforehand. The command\'s helpers are still the caller\'s children, and its\n'
      + 'output and exit status are the same. Without a server, bin/hako starts Node as always.',
    specs: [
      { long: 'socket', arg: 'required', value: 'PATH', help: 'where to listen (default $HAKO_SOCKET, else ROOT/hako.sock with the global --root)' },
      { long: 'spares', arg: 'required', value: 'N', help: 'Node processes kept started and waiting (default 2)' },
      { long: 'worker', help: 'internal: one waiting process (the server starts these)' },
      HELP,
    ],
    notes: "See README.md, 'Warm server', for a systemd unit and what it costs.",
    examples: ['hako serve &', 'hako --root /run/hako serve --spares 3'],
  },
  {
    name: 'help', group: 'other', operands: '[COMMAND]',
    summary: "this help, a command's, or the man page",
    specs: [{ long: 'man', help: 'print the manual page (roff): hako help --man | man -l -' }, HELP],
    examples: ['hako help run', 'hako help --man > hako.1'],
  },
  {
    name: 'completion', group: 'other', operands: 'bash|zsh',
    summary: 'a shell completion script',
    description: 'Print a script that completes hako\'s commands and flags in bash or zsh.',
    specs: [HELP],
    examples: ['source <(hako completion bash)    # in ~/.bashrc', 'source <(hako completion zsh)     # in ~/.zshrc, after compinit'],
  },
];

export function command(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** A command's option specs (those the parser takes). */
export function specsOf(name: string): OptionSpec[] {
  const c = command(name);
  if (!c) throw new Error(`no command ${name}`);
  return c.specs;
}
