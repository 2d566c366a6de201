#!/usr/bin/env bash
# How fast hako runs an OCI container, next to runc and crun, on one busybox bundle whose process
# is /bin/true (built as /work/shared/bench/anchors.sh builds it: `runc spec`, terminal off):
#   1. start-up, one process per launch, every row in ONE hyperfine run (-N, no shell):
#      hako run, runc run, crun run, node -e 0 (the floor for any Node CLI), hako --version, and
#      Node spawning crun (bench/node-crun.cjs: the floor for a Node CLI that runs a container);
#   2. the lifecycle through each CLI: create + start + wait + delete (bench/oci-lifecycle.sh);
#   3. throughput through each CLI: TP_N containers, P at a time for each P of TP_PARS (seq | xargs
#      -P, as anchors.sh; crun, runc and hako in one hyperfine run per P);
#   4. the library in a warm Node process (bench/lib-run.mjs): Runtime.run() N times in sequence,
#      and TP_N containers P at a time (a promise pool) for each P of TP_PARS, in one process.
# crun is started as a process per container, as its users start it; the summary gives each
# concurrency's containers/s against crun's at the same concurrency.
# crun 1.8 refuses this host's hybrid cgroups (a cgroup2 at /sys/fs/cgroup/unified that lists a
# controller), so, as anchors.sh does, everything runs in a private mount namespace where that
# cgroup2 is unmounted (plain cgroup v1) - hako and runc too, so that all rows share one
# environment. hako and runc are also measured in the host's mount namespace (rows "host",
# entered with nsenter, which both pay). Host mounts are not changed.
# Every container has its own id (hbo<pid>-...), every runtime a temporary --root; state dirs and
# the cgroups the runs made are removed at the end, and anything left is reported.
# Prints a markdown summary (also $OUT/summary.md) with the ratios against the targets.
# Needs root, runc, crun, hyperfine, jq, busybox-static (sudo sh scripts/setup.sh) and a build.
# Usage: bash bench/oci.sh      (npm run bench runs it after bench/unshare.sh)
# Environment: RUNS (30) WARMUP (3) LIB_N (50) TP_N (50) TP_PARS ("1 2 8") TP_RUNS (5)
#              WORK (/var/tmp/hako-bench-oci: the bundle and every runtime's state root; on some
#              VMs a mkdir in /tmp is far slower than in /var/tmp, a cost of the bench's placement,
#              not of a runtime) OUT (/tmp/hako-bench/<stamp>-oci)
# The machine should be otherwise idle: the summary records the load average before and after.
set -euo pipefail

SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
HAKO=$REPO/bin/hako
export RUNS=${RUNS:-30} WARMUP=${WARMUP:-3} LIB_N=${LIB_N:-50}
export TP_N=${TP_N:-50} TP_PARS=${TP_PARS:-${TP_PAR:-1 2 8}} TP_RUNS=${TP_RUNS:-5}
export WORK=${WORK:-/var/tmp/hako-bench-oci}
export OUT=${OUT:-/tmp/hako-bench/$(date -u +%Y%m%dT%H%M%SZ)-oci}
export PFX=${PFX:-hbo$$}
export STATE=$WORK/state-$PFX
B=$WORK/bundle

die() { echo "bench/oci.sh: $*" >&2; exit 1; }
log() { printf '== %s\n' "$*" >&2; }

# shellcheck source=bench/lib.sh
. "$(dirname "$SELF")/lib.sh"

# ------------------------------------------------------------------ inner: the measurements
inner() {
  hide_unified
  local H="nsenter --mount=$HOST_MNT" r
  for r in hako runc crun lib lib-host; do mkdir -p "$STATE/$r"; done
  "$HAKO" --root "$STATE/hako" run --bundle "$B" "$PFX-check-hako" || die "hako cannot run the bundle"
  runc --root "$STATE/runc" run --bundle "$B" "$PFX-check-runc" || die "runc cannot run the bundle"
  crun --root "$STATE/crun" run --bundle "$B" "$PFX-check-crun" || die "crun cannot run the bundle here"

  # 1. start-up: one hyperfine run
  set -- \
    "$HAKO --root $STATE/hako run --bundle $B $PFX-hako" \
    "runc --root $STATE/runc run --bundle $B $PFX-runc" \
    "crun --root $STATE/crun run --bundle $B $PFX-crun" \
    "$H $HAKO --root $STATE/hako run --bundle $B $PFX-hako-host" \
    "$H runc --root $STATE/runc run --bundle $B $PFX-runc-host" \
    "node -e 0" \
    "$HAKO --version" \
    "env -u NODE_EXTRA_CA_CERTS node $REPO/bench/node-crun.cjs $STATE/crun $B $PFX-nc"
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
    set -- "$@" "env -u NODE_EXTRA_CA_CERTS node -e 0" \
      "env -u NODE_EXTRA_CA_CERTS $HAKO --root $STATE/hako run --bundle $B $PFX-hako-noca"
  fi
  log "start-up: hyperfine -N, $RUNS runs + $WARMUP warm-up"
  hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --style basic --export-json "$OUT/run.json" "$@" >&2

  # 2. lifecycle through the CLIs
  log "lifecycle create+start+wait+delete: hyperfine -N, $RUNS runs + $WARMUP warm-up"
  hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --style basic --export-json "$OUT/lifecycle.json" \
    "sh $REPO/bench/oci-lifecycle.sh $HAKO $STATE/hako $B $PFX-lc-hako" \
    "sh $REPO/bench/oci-lifecycle.sh runc $STATE/runc $B $PFX-lc-runc" \
    "sh $REPO/bench/oci-lifecycle.sh crun $STATE/crun $B $PFX-lc-crun" >&2

  # 3. throughput through the CLIs (as anchors.sh: seq | xargs -P), one hyperfine run per concurrency
  local p
  for p in $TP_PARS; do
    log "throughput: $TP_N containers, $p at a time, $TP_RUNS runs"
    hyperfine --runs "$TP_RUNS" --warmup 1 --style basic --export-json "$OUT/tp-$p.json" \
      "seq 1 $TP_N | xargs -P$p -I{} crun --root $STATE/crun run --bundle $B $PFX-tp$p-crun-{}" \
      "seq 1 $TP_N | xargs -P$p -I{} runc --root $STATE/runc run --bundle $B $PFX-tp$p-runc-{}" \
      "seq 1 $TP_N | xargs -P$p -I{} $HAKO --root $STATE/hako run --bundle $B $PFX-tp$p-hako-{}" >&2
  done

  # 4. the library, warm: here, and in the host's mount namespace (every concurrency in one process)
  local pars=${TP_PARS// /,}
  log "library: Runtime.run() x $LIB_N in sequence; $TP_N containers $pars at a time x $TP_RUNS"
  node "$REPO/bench/lib-run.mjs" --bundle "$B" --root "$STATE/lib" --n "$LIB_N" --tp "$TP_N" --par "$pars" \
    --rounds "$TP_RUNS" --prefix "$PFX-lib" --json >"$OUT/lib.json"
  $H node "$REPO/bench/lib-run.mjs" --bundle "$B" --root "$STATE/lib-host" --n "$LIB_N" --tp "$TP_N" --par "$pars" \
    --rounds "$TP_RUNS" --prefix "$PFX-lbh" --json >"$OUT/lib-host.json"
}

if [ "${1:-}" = --inner ]; then inner; exit; fi

# ------------------------------------------------------------------ outer
[ "$(id -u)" = 0 ] || die "run as root (runc, crun and hako need it for this bundle)"
for t in runc crun hyperfine jq nsenter unshare node; do
  command -v "$t" >/dev/null || die "missing $t: sudo sh scripts/setup.sh"
done
[ -x /bin/busybox ] || die "missing /bin/busybox: sudo sh scripts/setup.sh (busybox-static)"
"$HAKO" --version >/dev/null 2>&1 || die "not built: npm ci (or npm run build)"

# the bundle (anchors.sh's): busybox rootfs, `runc spec`, process /bin/true, no terminal
if [ ! -x "$B/rootfs/bin/busybox" ] || [ ! -f "$B/config.json" ]; then
  rm -rf "$B"; mkdir -p "$B"/rootfs/{bin,proc,sys,dev,tmp,etc}
  cp /bin/busybox "$B/rootfs/bin/busybox"
  for a in sh true echo hostname ps mount cat sleep id ls; do ln -sf busybox "$B/rootfs/bin/$a"; done
  (cd "$B" && runc spec)
  jq '.process.terminal=false | .process.args=["/bin/true"]' "$B/config.json" >"$B/config.json.tmp"
  mv "$B/config.json.tmp" "$B/config.json"
fi
mkdir -p "$OUT"

# cgroups: the runs make <hierarchy>/<id> (runc, crun) and <hierarchy>/hako/<id> (hako)
cg_ours() { find /sys/fs/cgroup -maxdepth 4 -depth -type d -name "$PFX-*" 2>/dev/null || true; }
hako_parents_before=$(find /sys/fs/cgroup -maxdepth 2 -type d -name hako 2>/dev/null | sort || true)
LEFT=""
cleanup() {
  set +e
  local r d n
  # state: every runtime's root should hold no container now; force-delete what does
  for r in hako runc crun; do
    for d in "$STATE/$r"/*/; do
      [ -d "$d" ] || continue
      n=$(basename "$d"); case $n in @*) continue ;; esac
      LEFT="$LEFT state:$r/$n"
      case $r in hako) "$HAKO" --root "$STATE/$r" delete --force "$n" ;; *) $r --root "$STATE/$r" delete --force "$n" ;; esac >/dev/null 2>&1
    done
  done
  for r in lib lib-host; do
    for d in "$STATE/$r"/*/; do [ -d "$d" ] && case $(basename "$d") in @*) ;; *) LEFT="$LEFT state:$r/$(basename "$d")" ;; esac; done
  done
  rm -rf "$STATE"
  # cgroups of our ids (every run removes its own: what is still there is a leak, reported)
  for d in $(cg_ours); do LEFT="$LEFT cgroup:$d"; rmdir "$d" 2>/dev/null; done
  # hako's parent cgroup, when these runs made it
  for d in $(find /sys/fs/cgroup -maxdepth 2 -type d -name hako 2>/dev/null); do
    grep -qx "$d" <<<"$hako_parents_before" || rmdir "$d" 2>/dev/null
  done
  [ -n "$LEFT" ] && echo "bench/oci.sh: left behind (and now removed where possible):$LEFT" >&2
  [ -n "$LEFT" ] && echo "$LEFT" >"$OUT/leftovers.txt"
  return 0
}
trap cleanup EXIT

load0=$(cut -d' ' -f1-3 /proc/loadavg)
ENV_NAME="host mount namespace (cgroup $(stat -f -c %T /sys/fs/cgroup))"
export HOST_MNT=/proc/$$/ns/mnt HIDE_UNIFIED=0
if hybrid_with_controllers; then
  ENV_NAME="private mount namespace with /sys/fs/cgroup/unified unmounted (cgroup v1 only)"
  HIDE_UNIFIED=1
  unshare --mount --propagation private bash "$SELF" --inner
else
  bash "$SELF" --inner
fi

# ------------------------------------------------------------------ summary
cleanup; trap - EXIT
ms='*1000|.*100|round/100'
label() { # the row names of run.json
  jq -r --arg p "$PFX" --arg h "$HAKO" --arg s "$STATE" --arg b "$B" '.results[] | .command
    | gsub($h; "hako") | gsub(" --root " + $s + "/[a-z-]+"; "") | gsub(" --bundle " + $b; "")
    | gsub("nsenter --mount=/proc/[0-9]+/ns/mnt "; "[host ns] ") | gsub(" " + $p + "-[a-z-]+"; "")' "$OUT/run.json"
}
{
  echo "## hako OCI run, $(date -u +%FT%TZ)"
  echo
  echo "$(nproc) cores, kernel $(uname -r), node $(node --version), $(runc --version | head -1), $(crun --version | head -1), $(hyperfine --version)." \
       "Load average before $load0, after $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Bundle: busybox, \`runc spec\`, process /bin/true. Rows run in the $ENV_NAME unless marked [host ns]. State roots under $WORK."
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
    echo "NODE_EXTRA_CA_CERTS is set ($NODE_EXTRA_CA_CERTS): every Node start-up parses that CA bundle; the \`env -u\` rows show the cost."
  else
    echo "NODE_EXTRA_CA_CERTS is not set."
  fi
  echo
  echo "### 1. One container per process (hyperfine -N, $RUNS runs + $WARMUP warm-up, one run)"
  echo
  echo "| command | median ms | min ms | max ms | user+sys ms | / runc (same ns) | / crun |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  paste -d'\t' <(label) <(jq -r '.results[] | "\(.median'"$ms"')\t\(.min'"$ms"')\t\(.max'"$ms"')\t\((.user+.system)'"$ms"')\t\(.median)"' "$OUT/run.json") |
    awk -F'\t' -v runc="$(jq '.results[1].median' "$OUT/run.json")" -v runch="$(jq '.results[4].median' "$OUT/run.json")" \
        -v crun="$(jq '.results[2].median' "$OUT/run.json")" '{
      r = ($1 ~ /^\[host ns\]/) ? runch : runc
      c = ($1 ~ /^\[host ns\]/) ? "-" : sprintf("%.2f", $6 / crun)
      printf "| `%s` | %s | %s | %s | %s | %.2f | %s |\n", $1, $2, $3, $4, $5, $6 / r, c }'
  echo
  echo "### 2. Lifecycle through the CLI: create + start + wait + delete (bench/oci-lifecycle.sh)"
  echo
  echo "| runtime | median ms | min ms | max ms | / runc | / crun |"
  echo "|---|---:|---:|---:|---:|---:|"
  jq -r '.results[1].median as $r | .results[2].median as $c | .results[] |
    "| \(.command | split(" ")[2] | split("/")[-1]) | \(.median'"$ms"') | \(.min'"$ms"') | \(.max'"$ms"') | \(.median/$r*100|round/100) | \(.median/$c*100|round/100) |"' "$OUT/lifecycle.json"
  echo
  echo "### 3. Throughput: $TP_N containers, P at a time (P = $TP_PARS; the CLIs in one hyperfine run per P, $TP_RUNS runs)"
  echo
  echo "| how | at a time | wall median s | containers/s | / crun (same P) |"
  echo "|---|---:|---:|---:|---:|"
  for p in $TP_PARS; do
    jq -r --argjson n "$TP_N" --argjson p "$p" '($n/.results[0].median) as $c | .results[] |
      "| CLI \(.command | split(" -I{} ")[1] | split(" ")[0] | split("/")[-1]) (seq \\| xargs -P\($p)) | \($p) | \(.median*1000|round/1000) | \($n/.median*10|round/10) | \($n/.median/$c*100|round/100) |"' "$OUT/tp-$p.json"
    for f in lib lib-host; do
      jq -r --argjson p "$p" --argjson c "$(jq --argjson n "$TP_N" '$n/.results[0].median' "$OUT/tp-$p.json")" --arg w "$([ $f = lib ] && echo "" || echo " [host ns]")" '
        .tps[] | select(.par == $p) |
        "| library Runtime.run, promise pool\($w) | \($p) | \((.n/.median)*1000|round/1000) | \(.median*10|round/10) | \(.median/$c*100|round/100) |"' "$OUT/$f.json"
    done
  done
  echo
  echo "### 4. Library, warm Node process: Runtime.run() $LIB_N times in sequence"
  echo
  echo "| where | median ms | min ms | p90 ms | max ms | / crun run (CLI, same ns) |"
  echo "|---|---:|---:|---:|---:|---:|"
  for f in lib lib-host; do
    jq -r --argjson c "$(jq '.results[2].median*1000' "$OUT/run.json")" --arg w "$([ $f = lib ] && echo "same ns as crun" || echo "[host ns]")" '
      "| \($w) | \(.seq.median*100|round/100) | \(.seq.min*100|round/100) | \(.seq.p90*100|round/100) | \(.seq.max*100|round/100) | \(.seq.median/$c*100|round/100) |"' "$OUT/$f.json"
  done
  echo
  echo "### Ratios against the targets"
  echo
  # crun's containers/s at each concurrency, from its hyperfine run: {"1": ..., "2": ...}
  crun_tp=$(for p in $TP_PARS; do jq --arg p "$p" --argjson n "$TP_N" '{($p): ($n/.results[0].median)}' "$OUT/tp-$p.json"; done | jq -s add)
  jq -rn --slurpfile run "$OUT/run.json" --argjson cruntp "$crun_tp" --slurpfile lib "$OUT/lib.json" \
         --argjson n "$TP_N" '
    ($run[0].results) as $r | ($r[0].median) as $hako | ($r[1].median) as $runc | ($r[2].median) as $crun |
    ($r[3].median) as $hakoh | ($r[4].median) as $runch | ($r[5].median) as $node |
    ($lib[0].seq.median/1000) as $lib1 |
    def ok(c): if c then "met" else "**missed**" end;
    def x(v): (v*100|round/100|tostring);
    "| ratio | value | target | |",
    "|---|---:|---:|---|",
    "| library run / crun run (medians, same ns) | \(x($lib1/$crun)) | <= 0.7 | \(ok($lib1/$crun <= 0.7)) |",
    ($lib[0].tps[] | .median as $l | $cruntp[.par|tostring] as $c |
      "| library containers/s / crun containers/s (\($n) containers, \(.par) at a time) | \(x($l/$c)) (\($l*10|round/10) vs \($c*10|round/10)) | > 1 | \(ok($l > $c)) |"),
    "| CLI hako run, cold (no server) / runc run (same ns as crun) | \(x($hako/$runc)) | <= 1.5 | \(ok($hako <= 1.5 * $runc)) |",
    "| CLI hako run, cold / runc run (host ns, both via nsenter) | \(x($hakoh/$runch)) | <= 1.5 | \(ok($hakoh <= 1.5 * $runch)) |",
    "| CLI hako run / crun run | \(x($hako/$crun)) | | |",
    "",
    "Node floor: `node -e 0` \($node*1000|.*100|round/100) ms; CLI hako run is \(($hako-$node)*1000|.*100|round/100) ms above it" +
    "; `hako --version` (Node + loading the CLI) \($r[6].median*1000|.*100|round/100) ms" +
    "; Node (without NODE_EXTRA_CA_CERTS) spawning `crun run`, no hako code (bench/node-crun.cjs) \($r[7].median*1000|.*100|round/100) ms = \(x($r[7].median/$runc))x runc run" +
    (if ($r | length) > 8 then "; without NODE_EXTRA_CA_CERTS `node -e 0` is \($r[8].median*1000|.*100|round/100) ms and hako run \($r[9].median*1000|.*100|round/100) ms (hako run / runc run \(x($r[9].median/$runc)))." else "." end)'
  echo
  if [ -s "$OUT/leftovers.txt" ]; then echo "Left behind after the runs (removed where possible): $(cat "$OUT/leftovers.txt")"
  else echo "Left behind: nothing (state roots empty, no cgroups of these ids)."; fi
} >"$OUT/summary.md"
cat "$OUT/summary.md"
echo "raw figures: $OUT" >&2
