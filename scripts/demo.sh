#!/bin/sh
# A first look at hako: one shell in new namespaces of every kind (user, pid, mount, uts, ipc,
# net, cgroup, time) with its own /proc, next to the host. Nothing is downloaded.
# Works as root or as a user (then the kernel must allow unprivileged user namespaces).
set -eu
cd "$(dirname "$0")/.."
[ -x native/hako-helper ] && [ -f dist/cli/hako.cjs ] || { echo "demo.sh: build first, as root: sh scripts/setup.sh (or sudo sh scripts/setup.sh)" >&2; exit 1; }

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

# A real OCI container, as podman or containerd would run it: a bundle made here from the
# host's static busybox (no image download), the default config of `hako spec`, `hako run`.
if [ "$(id -u)" = 0 ]; then
  BB=/bin/busybox # busybox-static, which scripts/setup.sh installs
  if [ -x "$BB" ] && ! ldd "$BB" >/dev/null 2>&1; then
    B=$(mktemp -d /tmp/hako-demo-XXXXXX)
    trap 'rm -rf "$B"' EXIT
    mkdir -p "$B/rootfs/bin" "$B/rootfs/etc" "$B/rootfs/proc" "$B/rootfs/dev" "$B/rootfs/sys" "$B/rootfs/tmp"
    cp "$BB" "$B/rootfs/bin/busybox"
    for a in sh hostname id ps ls cat mount; do ln -s busybox "$B/rootfs/bin/$a"; done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$B/rootfs/etc/passwd"
    ./bin/hako spec --bundle "$B"
    # not a terminal, and a small script for the process (the rest is the default config)
    node -e '
      const fs = require("fs"), f = process.argv[1], c = JSON.parse(fs.readFileSync(f));
      c.process.terminal = false;
      c.process.args = ["sh", "-c", "echo \"in the container: hostname $(hostname), $(id)\"; ps; echo; grep -E \"^Cap(Eff|Bnd)\" /proc/self/status; mount | head -4"];
      fs.writeFileSync(f, JSON.stringify(c));' "$B/config.json"
    echo
    echo "== an OCI container (busybox rootfs, default config), run by hako as runc would run it"
    echo "\$ ./bin/hako run --bundle $B demo-$$"
    ./bin/hako --root /run/hako run --bundle "$B" "demo-$$"
    echo "== after it: $(./bin/hako --root /run/hako list -q | grep -c "demo-$$" || true) containers named demo-$$ left"

    # The sandbox: hostile snippets, each in a sandbox on the same rootfs, with hard limits, and the
    # verdict and usage the kernel reports (one JSON object per run, as isolate's meta file)
    for a in sleep true; do ln -sf busybox "$B/rootfs/bin/$a"; done
    echo
    echo "== hostile code in sandboxes: the verdicts and usage (hako sandbox run --json)"
    sandbox() {
      what=$1; shift
      printf '%-16s ' "$what"
      ./bin/hako sandbox run --rootfs "$B/rootfs" --json "$@" </dev/null 2>/dev/null \
        | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{const j=JSON.parse(s),u=j.usage;
            console.log(`${j.status.padEnd(13)} wall ${u.wallMs} ms, cpu ${u.cpuUserMs + u.cpuSystemMs} ms, peak memory ${(u.maxRssBytes / 1048576).toFixed(1)} MiB, peak pids ${u.pidsPeak}`)})' || true
    }
    sandbox "fork bomb" --pids 32 --wall-time 1s -- sh -c 'b() { b | b & }; b; sleep 5'
    sandbox "memory hog" --memory 32M -- sh -c 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done'
    sandbox "infinite loop" --time 500ms -- sh -c 'while :; do :; done'
    sandbox "sleep" --wall-time 300ms -- sleep 10
    sandbox "true" -- true
  else
    echo "(skipping the OCI container: no static busybox; apt-get install busybox-static)"
  fi
else
  echo "(the OCI container part of the demo runs as root: sh scripts/demo.sh from a root shell, or with sudo)"
fi
