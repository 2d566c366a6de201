#!/bin/sh
# How fast hako starts a command in new namespaces, next to what it replaces:
#   1. one process per launch, in ONE hyperfine run (-N, no shell): `hako unshare` cold (no
#      server) and through a warm server (`hako serve`, started here on a temporary --root), util-linux
#      `unshare` with the same namespaces, and `node -e 0`, the floor for any Node CLI;
#   2. the library in a warm Node process: bench/lib-unshare.mjs, unshare() against spawnSync of
#      util-linux unshare from that same process;
#   3. then the OCI runtime, bench/oci.sh (hako run vs runc and crun; its own summary). OCI=0 skips it.
# Prints a markdown summary (also saved as $OUT/summary.md) with the ratios hako/unshare and the
# targets of issue 10 (warm server <= 2x util-linux; library <= 1.0x util-linux spawned from Node).
# Needs root, hyperfine and jq (sudo sh scripts/setup.sh) and a build (npm ci).
# Usage: sh bench/unshare.sh    (npm run bench)
# Environment: RUNS (30) WARMUP (3) N (200 library calls) OUT (/tmp/hako-bench/<stamp>) OCI (1)
#   SERVER_WARMUP (300): commands the server runs before the timed run, as a server in use has: its
#   worker's JIT has compiled the command's path (a fresh server's first ~300 commands are ~1 ms slower)
# The machine should be otherwise idle: the summary records the load average before and after.
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30} WARMUP=${WARMUP:-3} N=${N:-200} SERVER_WARMUP=${SERVER_WARMUP:-300}
OUT=${OUT:-/tmp/hako-bench/$(date -u +%Y%m%dT%H%M%SZ)}

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (the rows create pid, mount and net namespaces without a user namespace)"
for t in hyperfine jq unshare node; do
  command -v "$t" >/dev/null || die "missing $t: sudo sh scripts/setup.sh"
done
[ -x native/hako-helper ] && [ -f dist/index.js ] && ./bin/hako --version >/dev/null 2>&1 || die "not built: npm ci (or npm run build)"
mkdir -p "$OUT"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. start-up, one process per launch: every row in this one hyperfine run -------------
# the front finds ROOT/hako.sock for a --root before the command word: the warm rows name the
# server's root, the cold ones an empty one
SROOT=$(mktemp -d /tmp/hako-bench-unshare-XXXXXX)
SERVER=
stop_server() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  SERVER=
  rm -rf "$SROOT"
}
trap stop_server EXIT
./bin/hako --root "$SROOT/warm" serve </dev/null >/dev/null 2>"$OUT/serve.err" &
SERVER=$!
i=0
while [ ! -S "$SROOT/warm/hako.sock" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$SROOT/warm/hako.sock" ] || die "hako serve did not start: $(cat "$OUT/serve.err")"
NS='--pid --mount --uts --ipc --net --mount-proc'
i=0
# shellcheck disable=SC2086
while [ $i -lt "$SERVER_WARMUP" ]; do ./bin/hako --root "$SROOT/warm" unshare $NS true; i=$((i + 1)); done
set -- \
  "./bin/hako --root $SROOT/cold unshare --all --mount-proc true" \
  "./bin/hako --root $SROOT/cold unshare $NS true" \
  "./bin/hako --root $SROOT/warm unshare $NS true" \
  "unshare --fork $NS true" \
  'node -e 0'
# (the OCI runtime rows - hako run vs runc and crun - are bench/oci.sh's, run at the end)
echo "== start-up: hyperfine -N, $RUNS runs + $WARMUP warm-up" >&2
hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --style basic --export-json "$OUT/cli.json" "$@" >&2
stop_server
trap - EXIT

# ---- 2. the library, warm ----------------------------------------------------------------
echo "== library: $N sequential calls each, one warm Node process" >&2
node bench/lib-unshare.mjs "$N" --json >"$OUT/lib.json"

# ---- summary -----------------------------------------------------------------------------
ms='*1000|.*100|round/100'
{
  echo "## hako unshare start-up, $(date -u +%FT%TZ)"
  echo
  echo "$(nproc) cores, kernel $(uname -r), node $(node --version), $(unshare --version), $(hyperfine --version)." \
       "Load average before $load0, after $(cut -d' ' -f1-3 /proc/loadavg).${NODE_EXTRA_CA_CERTS:+ NODE_EXTRA_CA_CERTS is set: every Node start-up here includes parsing that CA bundle.}"
  echo
  echo "One process per launch (hyperfine -N, $RUNS runs + $WARMUP warm-up; the server ran the command $SERVER_WARMUP times before):"
  echo
  echo "| command | median ms | min ms | max ms | median / unshare |"
  echo "|---|---:|---:|---:|---:|"
  jq -r --arg r "$SROOT" '(.results[] | select(.command|startswith("unshare ")) | .median) as $u | .results[] |
    "| `\(.command | sub(" --root " + $r + "/cold"; "") | sub(" --root " + $r + "/warm"; " [warm server]"))` | \(.median'"$ms"') | \(.min'"$ms"') | \(.max'"$ms"') | \(.median/$u*100|round/100) |"' "$OUT/cli.json"
  echo
  echo "In one warm Node process ($(jq .n "$OUT/lib.json") sequential calls each, after $(jq .warmup "$OUT/lib.json") warm-up):"
  echo
  echo "| call | median ms | min ms | p90 ms | median / unshare |"
  echo "|---|---:|---:|---:|---:|"
  jq -r '.results.unshare.median as $u | .results[] |
    "| `\(.label)` | \(.median*100|round/100) | \(.min*100|round/100) | \(.p90*100|round/100) | \(.median/$u*100|round/100) |"' "$OUT/lib.json"
  echo
  jq -r --slurpfile lib "$OUT/lib.json" '
    (.results[] | select(.command|startswith("unshare ")) | .median) as $u |
    (.results[] | select(.command|test("/cold unshare --pid")) | .median) as $h |
    (.results[] | select(.command|test("/warm unshare --pid")) | .median) as $w |
    (.results[] | select(.command == "node -e 0") | .median) as $n |
    def ok(c): if c then "met" else "**missed**" end;
    def x(v): (v*100|round/100|tostring);
    "**hako/unshare** (medians, same namespaces): CLI cold \(x($h/$u))x, of which Node start-up is \($n'"$ms"') ms " +
    "and hako \(($h-$n)'"$ms"') ms above it.",
    "",
    "| ratio (medians, this run) | value | target | |",
    "|---|---:|---:|---|",
    "| `hako unshare` through the warm server / util-linux `unshare` | \(x($w/$u)) (\($w'"$ms"') vs \($u'"$ms"') ms) | <= 2 | \(ok($w/$u <= 2)) |",
    "| library `unshare()` / util-linux `unshare` spawned from Node | \(x($lib[0].ratio)) (\($lib[0].results.hako.median*100|round/100) vs \($lib[0].results.unshare.median*100|round/100) ms) | <= 1.0 | \(ok($lib[0].ratio <= 1)) |"' "$OUT/cli.json"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
echo "raw figures: $OUT" >&2

# ---- 3. the OCI runtime: hako run vs runc and crun, CLI and library (its own summary) -------
if [ "${OCI:-1}" != 0 ]; then
  echo >&2
  RUNS=$RUNS WARMUP=$WARMUP OUT="$OUT/oci" bash bench/oci.sh
fi
