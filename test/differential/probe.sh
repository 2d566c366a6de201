# The differential harness's probe (test/differential): runs as the container's process under
# runc and under hako and prints what the container sees, one section per "== name" line. It uses
# only busybox (by its full path, so a config without PATH works the same) and writes nothing but
# one directory in /dev/shm (the seccomp action cases watch those calls). The harness normalizes
# what legitimately differs (ids, pids, mount ids, device numbers, host paths): see harness.mjs.
exec 2>&1
bb=/bin/busybox
echo "== ids"
$bb id
echo "== status"
$bb grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters|Cpus_allowed_list):' /proc/self/status
echo "umask $(umask)"
echo "oom_score_adj $($bb cat /proc/self/oom_score_adj)"
echo "personality $($bb cat /proc/self/personality)"
$bb grep -E '^policy' /proc/self/sched | $bb tr -s ' \t' ' '
echo "== limits"
$bb cat /proc/self/limits
echo "== uts"
echo "hostname $($bb hostname)"
echo "domainname $($bb cat /proc/sys/kernel/domainname)"
echo "== cwd"
echo "pwd $(pwd) $($bb readlink /proc/$$/cwd)"
echo "== env"
$bb env | $bb sort
echo "== fds"
for f in /proc/$$/fd/*; do echo "${f##*/} $($bb readlink "$f")"; done
echo "== ns"
for n in cgroup ipc mnt net pid pid_for_children time time_for_children user uts; do echo "$n $($bb readlink /proc/$$/ns/$n)"; done
echo "== mountinfo"
$bb cat /proc/$$/mountinfo
echo "== dev"
for f in /dev/* /dev/.[!.]*; do [ -e "$f" ] || [ -L "$f" ] || continue; echo "$($bb stat -c '%n %F %a %t,%T %u:%g' "$f") $($bb readlink "$f")"; done
echo "== cgroup"
$bb cat /proc/self/cgroup
for f in memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes memory/memory.memsw.limit_in_bytes memory/memory.swappiness \
  cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us pids/pids.max cpuset/cpuset.cpus cpuset/cpuset.mems \
  blkio/blkio.weight devices/devices.list; do
  echo "$f $($bb cat /sys/fs/cgroup/$f 2>/dev/null | $bb tr '\n' ' ')"
done
echo "== sysctl"
for f in kernel/shmmax kernel/msgmax kernel/sem net/ipv4/ip_forward net/ipv4/ping_group_range net/core/somaxconn; do
  echo "$f $($bb cat /proc/sys/$f 2>/dev/null | $bb tr '\t' ' ')"
done
echo "== net"
for i in $($bb cat /proc/net/dev | $bb tail -n +3 | $bb cut -d: -f1 | $bb tr -d ' ' | $bb sort); do
  echo "$i $($bb cat /sys/class/net/$i/operstate 2>/dev/null) $($bb cat /sys/class/net/$i/flags 2>/dev/null)"
done
echo "== actions"
( $bb mkdir /dev/shm/probe ); echo "mkdir $?"
( $bb chmod 700 /dev/shm/probe ); echo "chmod $?"
( $bb touch /probe-write ); echo "write-root $?"
( $bb ls /proc/kcore >/dev/null ); echo "kcore $?"
( : >> /proc/sys/kernel/domainname ); echo "open-proc-sys-for-write $?"
( $bb cat /sys/firmware/x >/dev/null ); echo "firmware $?"
echo "== end"
