#!/usr/bin/env bash
# hako through the real clients, next to runc in the same daemons: N x `run --rm ... true` of
# podman, containerd (ctr) and Docker with each runtime, one hyperfine run per client (both
# runtimes in it), as test/clients/check-clients.sh --bench sets the clients up (everything under
# /tmp/client-check: podman's storage, a containerd and a dockerd of its own; the host's network
# is not touched: --network none). With SERVER=1 (the default when `hako serve` exists), the
# runtime is measured with a warm `hako serve` on the default root's socket (/run/hako/hako.sock)
# running for the whole run, also named in HAKO_SOCKET: containerd's and dockerd's calls (with
# their own --root) find it through the variable, podman's conmon's (which passes neither
# HAKO_SOCKET nor --root to the runtime) at the default root; SERVER=0 measures the cold CLI.
# Usage: bash bench/clients.sh      Environment: N (50), PARTS (podman,containerd,docker), SERVER
set -euo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
N=${N:-50}
PARTS=${PARTS:-podman,containerd,docker}
HAKO=$REPO/bin/hako
SERVER=${SERVER:-auto}
server_pid=
sock_dir=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$sock_dir" ] && rm -rf "$sock_dir"
  true
}
trap cleanup EXIT
if [ "$SERVER" = auto ]; then
  if "$HAKO" serve --help >/dev/null 2>&1; then SERVER=1; else SERVER=0; fi
fi
if [ "$SERVER" = 1 ]; then
  # the default root's socket, named in HAKO_SOCKET too: containerd's and dockerd's calls pass
  # their own --root, and find it through the variable they inherit
  sock=/run/hako/hako.sock
  export HAKO_SOCKET=$sock
  sock_dir=$(mktemp -d /tmp/hako-bench-serve-XXXXXX)
  # one already serving there is used as it is (this one then ends at once)
  "$HAKO" serve >"$sock_dir/serve.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
  [ -S "$sock" ] || { echo "bench/clients.sh: hako serve did not start (see $sock_dir/serve.log)" >&2; exit 1; }
fi
echo "== $N x run --rm true per client, hako ($([ "$SERVER" = 1 ] && echo "warm server" || echo "cold CLI")) against runc, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
LOCK_WAIT=${LOCK_WAIT:-600} bash "$REPO/test/clients/check-clients.sh" "$HAKO" --only "$PARTS" --bench "$N" | grep -E '^(bench |FAIL|[0-9]+ passed)'
