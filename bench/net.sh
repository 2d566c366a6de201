#!/bin/sh
# What a network costs a container's start: `hako run --network bridge` (a veth on the bridge, an
# address, a route, the NAT and firewall rules, then DEL at the end) against `--network none` (a
# new network namespace with lo up), and against `podman run --network bridge` of the same rootfs
# where podman is installed and works here, as ratios from ONE hyperfine run (-N, no shell).
# Target: bridge adds under 30 ms to a start.
# The real host's network is never touched: every row runs in a network namespace this script
# makes as its "host" (nsenter --net), with hako's own network config and state directories in a
# temporary directory; the namespace and the directory are removed at the end.
# Needs root, hyperfine, jq, busybox-static, runc (for `runc spec`), containernetworking-plugins.
# Usage: sh bench/net.sh
# Environment: RUNS (30) WARMUP (3) PODMAN (1: also podman) OUT (/tmp/hako-bench/<stamp>-net)
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30} WARMUP=${WARMUP:-3} PODMAN=${PODMAN:-1}
OUT=${OUT:-/tmp/hako-bench/$(date -u +%Y%m%dT%H%M%SZ)-net}
HAKO=$(pwd)/bin/hako

die() { echo "bench/net.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (bridges, iptables)"
for t in hyperfine jq ip nsenter runc busybox; do command -v "$t" >/dev/null || die "missing $t: sudo sh scripts/setup.sh"; done
[ -x /usr/lib/cni/bridge ] || die "missing the CNI plugins: apt-get install containernetworking-plugins"
"$HAKO" --version >/dev/null 2>&1 || die "not built: npm ci (or npm run build)"
mkdir -p "$OUT"
NS=hako-bench-net-$$
WORK=$(mktemp -d /tmp/hako-bench-net-XXXXXX)
cleanup() {
  for id in none bridge; do nsenter --net=/run/netns/$NS "$HAKO" --root "$WORK/root" delete --force "hbn-$id" 2>/dev/null || true; done
  ip netns del $NS 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ip netns add $NS
ip -n $NS link set lo up
export HAKO_NET_DIR="$WORK/net.d" HAKO_NET_STATE="$WORK/state"

# one busybox bundle whose process is /bin/true; the network option adds the namespace
B=$WORK/bundle
mkdir -p "$B/rootfs/bin" "$B/rootfs/etc" "$B/rootfs/proc" "$B/rootfs/dev" "$B/rootfs/sys" "$B/rootfs/tmp"
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"; ln -s busybox "$B/rootfs/bin/sh"
(cd "$B" && runc spec && jq '.process.terminal=false | .process.args=["/bin/true"] | .linux.namespaces |= map(select(.type != "network"))' config.json >c && mv c config.json)

IN="nsenter --net=/run/netns/$NS"
set -- \
  "$IN $HAKO --root $WORK/root run --network none -b $B hbn-none" \
  "$IN $HAKO --root $WORK/root run --network bridge -b $B hbn-bridge"
$IN "$HAKO" --root "$WORK/root" run --network bridge -b "$B" hbn-check || die "hako cannot run the bundle on the bridge network"
podman_row=
if [ "$PODMAN" = 1 ] && command -v podman >/dev/null; then
  # its own storage, run and network config directories under $WORK (netavark still keeps its
  # address leases in /run/containers/networks/ipam.db, released at the end of each run); runc and explicit ulimits (this VM lacks CAP_SYS_RESOURCE; crun refuses its cgroups)
  P="$IN podman --root $WORK/podman/root --runroot $WORK/podman/run --network-config-dir $WORK/podman/net --cgroup-manager=cgroupfs --events-backend=file --runtime $(command -v runc) run --rm --network bridge --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --rootfs $B/rootfs /bin/true"
  if $P >/dev/null 2>&1; then set -- "$@" "$P"; podman_row=1; else echo "bench/net.sh: podman run --network bridge does not work here: its row is left out" >&2; fi
fi
echo "== hyperfine -N, $RUNS runs + $WARMUP warm-up" >&2
load0=$(cut -d' ' -f1-3 /proc/loadavg)
hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --style basic --export-json "$OUT/net.json" "$@" >&2

ms='*1000|.*10|round/10'
{
  echo "## Container start with a network, $(date -u +%FT%TZ)"
  echo
  echo "$(nproc) cores, kernel $(uname -r), node $(node --version), $(hyperfine --version). Load average before $load0, after $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Each row: one \`run\` of /bin/true, entered with nsenter into a test network namespace (which every row pays)."
  echo
  echo "| command | median ms | min ms | max ms | median / none |"
  echo "|---|---:|---:|---:|---:|"
  jq -r '(.results[0].median) as $n | .results[] |
    "| `\(.command | sub("^nsenter --net=\\S+ "; "") | gsub("/tmp/\\S+/"; ""))` | \(.median'"$ms"') | \(.min'"$ms"') | \(.max'"$ms"') | \(.median/$n*100|round/100) |"' "$OUT/net.json"
  echo
  jq -r '.results[0].median as $n | .results[1].median as $b |
    "**bridge/none** \($b/$n*100|round/100)x: the bridge network adds \(($b-$n)'"$ms"') ms to a start (target: under 30 ms)." +
    (if (.results|length) > 2 then " **podman bridge / hako bridge** \(.results[2].median/$b*100|round/100)x." else "" end)' "$OUT/net.json"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
echo "raw figures: $OUT" >&2
