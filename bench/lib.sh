# Shared by the benches that run crun (sourced): crun refuses this host's cgroup layout when a
# cgroup2 at /sys/fs/cgroup/unified has controllers (hybrid mode), so they measure in a private
# mount namespace where that mount is hidden. The caller defines die().

# true when crun would refuse this host's cgroup layout (anchors.sh)
hybrid_with_controllers() {
  [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] || return 1
  [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] || return 1
  [ -n "$(tr -d '[:space:]' </sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]
}

# In the private mount namespace, with HIDE_UNIFIED=1: /sys/fs/cgroup/unified unmounted (or, if
# it cannot be, covered by an empty read-only tmpfs). Host mounts are not touched.
hide_unified() {
  [ "${HIDE_UNIFIED:-0}" = 1 ] || return 0
  umount /sys/fs/cgroup/unified 2>/dev/null ||
    mount -t tmpfs -o size=4k,mode=0555 none /sys/fs/cgroup/unified ||
    die "cannot hide /sys/fs/cgroup/unified in the private mount namespace"
}
