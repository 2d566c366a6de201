#!/usr/bin/env bash
# The library's Runtime.run with and without the Runtime's resident helper (the zygote), next to
# crun's CLI run, on one busybox bundle whose process is /bin/true (bench/oci.sh's):
#   1. one container at a time: ms per run (Runtime.run in a warm Node process; crun run, hyperfine -N);
#   2. throughput at concurrency 1, 2 and 8: TP_N containers (a promise pool; crun: seq | xargs -P).
# As bench/oci.sh, everything runs in a private mount namespace where a hybrid host's cgroup2 is
# unmounted (crun 1.8 refuses it otherwise). Every runtime's state root is under one directory,
# WORK (default /var/tmp/hako-bench-zygote: /tmp on some VMs makes mkdir far slower); the roots
# and the cgroups the runs made are removed at the end.
# Usage: bash bench/zygote.sh   (root; needs crun, hyperfine, jq, /bin/busybox and a build)
# Environment: N (50) TP_N (50) ROUNDS (3) WORK
set -euo pipefail
SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
export N=${N:-50} TP_N=${TP_N:-50} ROUNDS=${ROUNDS:-3}
export WORK=${WORK:-/var/tmp/hako-bench-zygote}
export PFX=${PFX:-hbz$$}
export STATE=$WORK/state-$PFX
B=$WORK/bundle
die() { echo "bench/zygote.sh: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$(dirname "$SELF")/lib.sh"

inner() {
  hide_unified
  mkdir -p "$STATE/crun" "$STATE/lib" "$STATE/lib-nz"
  crun --root "$STATE/crun" run --bundle "$B" "$PFX-check" || die "crun cannot run the bundle here"
  hyperfine -N --runs "$N" --warmup 3 --style none --export-json "$STATE/crun.json" \
    "crun --root $STATE/crun run --bundle $B $PFX-c" >/dev/null
  echo "crun run: median $(jq '.results[0].median*1000*100|round/100' "$STATE/crun.json") ms"
  for par in 1 2 8; do
    for r in $(seq 1 "$ROUNDS"); do
      t0=$(date +%s%N)
      seq 1 "$TP_N" | xargs -P"$par" -I{} crun --root "$STATE/crun" run --bundle "$B" "$PFX-t$par-$r-{}"
      t1=$(date +%s%N)
      rate=$(echo "$TP_N * 1000000000 / ($t1 - $t0)" | bc -l)
      echo "crun throughput, $par at a time, round $r: $(printf %.1f "$rate") containers/s"
    done
  done
  for z in "" --no-zygote; do
    for par in 1 2 8; do
      echo "library ${z:-(zygote)}, $par at a time:"
      node "$REPO/bench/lib-run.mjs" --bundle "$B" --root "$STATE/lib${z:+-nz}" --n "$N" --tp "$TP_N" --par "$par" \
        --rounds "$ROUNDS" --prefix "$PFX-l$par${z:+n}" $z | sed 's/^/  /'
    done
  done
}

if [ "${1:-}" = --inner ]; then inner; exit; fi

[ "$(id -u)" = 0 ] || die "run as root"
for t in crun hyperfine jq bc unshare node; do command -v "$t" >/dev/null || die "missing $t"; done
if [ ! -x "$B/rootfs/bin/busybox" ] || [ ! -f "$B/config.json" ]; then
  rm -rf "$B"; mkdir -p "$B"/rootfs/{bin,proc,sys,dev,tmp,etc}
  cp /bin/busybox "$B/rootfs/bin/busybox"
  for a in sh true; do ln -sf busybox "$B/rootfs/bin/$a"; done
  (cd "$B" && runc spec)
  jq '.process.terminal=false | .process.args=["/bin/true"]' "$B/config.json" >"$B/config.json.tmp"
  mv "$B/config.json.tmp" "$B/config.json"
fi
cleanup() {
  set +e
  for d in "$STATE"/crun/*/; do [ -d "$d" ] && crun --root "$STATE/crun" delete --force "$(basename "$d")" >/dev/null 2>&1; done
  rm -rf "$STATE"
  for d in $(find /sys/fs/cgroup -maxdepth 4 -depth -type d -name "$PFX-*" 2>/dev/null); do
    echo "bench/zygote.sh: left behind: cgroup $d" >&2; rmdir "$d"
  done
  return 0
}
trap cleanup EXIT
echo "$(nproc) cores, kernel $(uname -r), node $(node --version), $(crun --version | head -1); roots under $WORK; load $(cut -d' ' -f1-3 /proc/loadavg)"
HIDE_UNIFIED=0
if hybrid_with_controllers; then
  HIDE_UNIFIED=1
  echo "(private mount namespace, /sys/fs/cgroup/unified unmounted)"
fi
export HIDE_UNIFIED
unshare --mount --propagation private bash "$SELF" --inner
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
