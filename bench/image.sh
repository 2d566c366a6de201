#!/bin/sh
# How fast `hako image import` stores an image, next to `umoci unpack` of the same OCI layout:
# a ~100 MB image (two layers of random files: 1 MB, 64 kB and 1 kB) made here, one run each,
# MB/s of image bytes and the ratio hako/umoci. hako's run checks every blob's sha256, copies the
# blobs into its store and unpacks each layer (checking its diff id); umoci's checks the blobs and
# unpacks them into a bundle's rootfs (and writes its mtree manifest).
# Needs root, umoci (sudo sh scripts/setup.sh --test) and a build (npm ci).
# Usage: sh bench/image.sh     Environment: MB (100) GZIP (0; 1: gzip layers) OUT (/tmp/hako-bench/image-<stamp>)
set -eu
cd "$(dirname "$0")/.."
MB=${MB:-100} GZIP=${GZIP:-0}
OUT=${OUT:-/tmp/hako-bench/image-$(date -u +%Y%m%dT%H%M%SZ)}
die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (layers are unpacked with their owners and devices)"
command -v umoci >/dev/null || die "missing umoci: sudo sh scripts/setup.sh --test"
[ -f dist/index.js ] && ./bin/hako --version >/dev/null 2>&1 || die "not built: npm ci (or npm run build)"
mkdir -p "$OUT"
trap 'rm -rf "$OUT/layout" "$OUT/store" "$OUT/bundle"' EXIT
node bench/image-layout.mjs "$OUT/layout" "$MB" "$([ "$GZIP" = 1 ] && echo gzip || echo tar)" >/dev/null
bytes=$(du -sb "$OUT/layout/blobs" | cut -f1)
now() { date +%s.%N; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(now); ./bin/hako image --image-root "$OUT/store" import --quiet "$OUT/layout" >/dev/null; t1=$(now)
t2=$(now); umoci unpack --image "$OUT/layout:1" "$OUT/bundle" >/dev/null 2>&1; t3=$(now)
load1=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v gz="$([ "$GZIP" = 1 ] && echo gzip || echo tar)" -v b="$bytes" -v h0="$t0" -v h1="$t1" -v u0="$t2" -v u1="$t3" -v l0="$load0" -v l1="$load1" 'BEGIN {
  mb = b / 1e6; h = h1 - h0; u = u1 - u0
  printf "## image import: %.1f MB (2 layers, %s), one run each\n\n", mb, gz
  printf "| tool | seconds | MB/s |\n|---|---|---|\n"
  printf "| hako image import | %.2f | %.1f |\n", h, mb / h
  printf "| umoci unpack | %.2f | %.1f |\n", u, mb / u
  printf "\nratio hako/umoci (throughput): %.2f\nload average: before %s, after %s\n", u / h, l0, l1
}' | tee "$OUT/summary.md"
