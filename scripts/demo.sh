#!/bin/sh
# A first look at hako: one shell in new namespaces of every kind (user, pid, mount, uts, ipc,
# net, cgroup, time) with its own /proc, next to the host. Nothing is downloaded.
# Works as root or as a user (then the kernel must allow unprivileged user namespaces).
set -eu
cd "$(dirname "$0")/.."
[ -x native/hako-helper ] && [ -f dist/cli/hako.js ] || { echo "demo.sh: build first: sudo sh scripts/setup.sh" >&2; exit 1; }

echo "== on the host: hostname $(hostname), $(id -un) (uid $(id -u)), $(ps -e --no-headers | wc -l) processes, $(ip -o link | wc -l) network links"
echo "\$ ./bin/hako unshare --all --mount-proc --map-root-user --hostname hako-demo sh"
./bin/hako unshare --all --mount-proc --map-root-user --hostname hako-demo -- sh -c '
  echo; echo "== a new UTS namespace: the hostname is set inside"; hostname
  echo; echo "== a new PID namespace with its own /proc: this shell is PID 1"; ps -o pid,user,comm
  echo; echo "== a new user namespace: root inside, mapped to your own uid outside"; id
  read -r in out n </proc/self/uid_map; echo "uid_map: uid $in inside is uid $out outside"
  echo; echo "== a new network namespace: only lo"; ip link'
echo
echo "== back on the host: hostname still $(hostname), $(ip -o link | wc -l) network links"
