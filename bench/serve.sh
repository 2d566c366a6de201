#!/usr/bin/env bash
# hako with and without the warm server (hako serve, issue 10), next to runc and crun, in ONE
# hyperfine run per part (-N, no shell between):
#   1. start-up: `run` of a busybox bundle whose process is /bin/true: hako through the server
#      (warm), hako without one (cold: bin/hako's front finds no socket and execs node), runc, crun;
#   2. the lifecycle as containerd's shim drives it (bench/serve-lifecycle.sh: create, start, state,
#      kill, delete of a `sleep` container), the same four.
# The warm rows use --root $STATE/warm, where the server listens (ROOT/hako.sock, the front's
# default); the cold rows --root $STATE/cold, where nothing does. As bench/oci.sh, everything runs in
# a private mount namespace where a hybrid host's cgroup2 is hidden (crun refuses it otherwise).
# Prints a markdown summary (also $OUT/summary.md) with the ratios against runc, and the server's
# resident memory (its process and its waiting workers).
# Needs root, runc, crun, hyperfine, jq, busybox-static and a build.
# Usage: bash bench/serve.sh     Environment: RUNS (30) WARMUP (5) OUT
#   WORK (/var/tmp/hako-bench-serve: the bundles and every runtime's state root; as in bench/oci.sh,
#   a mkdir in /tmp is far slower than in /var/tmp on some VMs, a cost of the placement, not of a runtime)
set -euo pipefail

SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
HAKO=$REPO/bin/hako
export RUNS=${RUNS:-30} WARMUP=${WARMUP:-5}
export WORK=${WORK:-/var/tmp/hako-bench-serve}
export OUT=${OUT:-/tmp/hako-bench/$(date -u +%Y%m%dT%H%M%SZ)-serve}
export PFX=${PFX:-hbs$$}
export STATE=$WORK/state-$PFX
B=$WORK/bundle
BS=$WORK/bundle-sleep

die() { echo "bench/serve.sh: $*" >&2; exit 1; }
log() { printf '== %s\n' "$*" >&2; }

# shellcheck source=bench/lib.sh
. "$(dirname "$SELF")/lib.sh"

inner() {
  hide_unified
  local r
  for r in warm cold runc crun; do mkdir -p "$STATE/$r"; done
  # the server, in this mount namespace (the front uses a server only in its own namespaces)
  "$HAKO" --root "$STATE/warm" serve 2>"$OUT/serve.log" &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
  local server=$SERVER
  for _ in $(seq 100); do [ -S "$STATE/warm/hako.sock" ] && break; sleep 0.05; done
  [ -S "$STATE/warm/hako.sock" ] || die "hako serve did not start"
  "$HAKO" --root "$STATE/warm" run --bundle "$B" "$PFX-check-warm" || die "hako (warm) cannot run the bundle"
  "$HAKO" --root "$STATE/cold" run --bundle "$B" "$PFX-check-cold" || die "hako (cold) cannot run the bundle"
  runc --root "$STATE/runc" run --bundle "$B" "$PFX-check-runc" || die "runc cannot run the bundle"
  crun --root "$STATE/crun" run --bundle "$B" "$PFX-check-crun" || die "crun cannot run the bundle here"

  log "start-up: hyperfine -N, $RUNS runs + $WARMUP warm-up"
  hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --style basic --export-json "$OUT/run.json" \
    -n "hako run (server)" "$HAKO --root $STATE/warm run --bundle $B $PFX-warm" \
    -n "hako run (no server)" "$HAKO --root $STATE/cold run --bundle $B $PFX-cold" \
    -n "runc run" "runc --root $STATE/runc run --bundle $B $PFX-runc" \
    -n "crun run" "crun --root $STATE/crun run --bundle $B $PFX-crun" >&2

  log "lifecycle create+start+state+kill+delete: hyperfine -N, $RUNS runs + $WARMUP warm-up"
  hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --style basic --export-json "$OUT/lifecycle.json" \
    -n "hako lifecycle (server)" "sh $REPO/bench/serve-lifecycle.sh $HAKO $STATE/warm $BS $PFX-lc-warm" \
    -n "hako lifecycle (no server)" "sh $REPO/bench/serve-lifecycle.sh $HAKO $STATE/cold $BS $PFX-lc-cold" \
    -n "runc lifecycle" "sh $REPO/bench/serve-lifecycle.sh runc $STATE/runc $BS $PFX-lc-runc" \
    -n "crun lifecycle" "sh $REPO/bench/serve-lifecycle.sh crun $STATE/crun $BS $PFX-lc-crun" >&2

  # resident memory: the server and its waiting workers (kB, from /proc)
  local rss=0 p
  for p in $server $(pgrep -P "$server" || true); do
    rss=$((rss + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$rss $(pgrep -P "$server" | wc -l)" >"$OUT/rss.txt"
}

if [ "${1:-}" = --inner ]; then inner; exit; fi

[ "$(id -u)" = 0 ] || die "run as root"
for t in runc crun hyperfine jq unshare node; do command -v "$t" >/dev/null || die "missing $t: sudo sh scripts/setup.sh"; done
[ -x /bin/busybox ] || die "missing /bin/busybox"
"$HAKO" --version >/dev/null 2>&1 || die "not built: npm ci (or npm run build)"
for d in "$B" "$BS"; do
  if [ ! -x "$d/rootfs/bin/busybox" ] || [ ! -f "$d/config.json" ]; then
    rm -rf "$d"; mkdir -p "$d"/rootfs/{bin,proc,sys,dev,tmp,etc}
    cp /bin/busybox "$d/rootfs/bin/busybox"
    for a in sh true sleep; do ln -sf busybox "$d/rootfs/bin/$a"; done
    (cd "$d" && runc spec)
  fi
done
jq '.process.terminal=false | .process.args=["/bin/true"]' "$B/config.json" >"$B/c.tmp" && mv "$B/c.tmp" "$B/config.json"
jq '.process.terminal=false | .process.args=["/bin/sleep","1000"]' "$BS/config.json" >"$BS/c.tmp" && mv "$BS/c.tmp" "$BS/config.json"
mkdir -p "$OUT"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
hide=0
hybrid_with_controllers && hide=1
HIDE_UNIFIED=$hide unshare -m --propagation private bash "$SELF" --inner || { rm -rf "$STATE"; die "the measurements failed"; }
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# what the runs left: every state root should be empty
left=$(find "$STATE" -mindepth 2 -maxdepth 2 -type d ! -name '@*' 2>/dev/null | tr '\n' ' ')
for d in $(find /sys/fs/cgroup -maxdepth 4 -depth -type d -name "$PFX-*" 2>/dev/null); do left="$left cgroup:$d"; rmdir "$d" 2>/dev/null || true; done
rm -rf "$STATE"

mean() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .mean * 1000' "$OUT/$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
  echo "# hako serve bench ($(date -u +%FT%TZ)), $RUNS runs, load $load_before -> $load_after"
  echo
  echo "| row | mean ms | / runc | / crun |"
  echo "|---|---|---|---|"
  for f in run lifecycle; do
    if [ $f = run ]; then rows=("hako run (server)" "hako run (no server)" "runc run" "crun run"); else rows=("hako lifecycle (server)" "hako lifecycle (no server)" "runc lifecycle" "crun lifecycle"); fi
    runc_ms=$(mean $f.json "${rows[2]}"); crun_ms=$(mean $f.json "${rows[3]}")
    for r in "${rows[@]}"; do
      m=$(mean $f.json "$r")
      printf '| %s | %.1f | %s | %s |\n' "$r" "$m" "$(ratio "$m" "$runc_ms")" "$(ratio "$m" "$crun_ms")"
    done
  done
  read -r rss workers <"$OUT/rss.txt"
  echo
  echo "Targets: run through the server <= 0.7x runc; without it <= 1.5x runc."
  echo "Server resident memory: $((rss / 1024)) MiB (the server and $workers waiting workers)."
  [ -z "${left// /}" ] || echo "LEFT BEHIND: $left"
} | tee "$OUT/summary.md"
