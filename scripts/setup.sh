#!/bin/sh
# Installs what hako needs on Debian 12 (or Ubuntu), then runs `npm ci` (which builds the C
# helper and the bundle). Run as root, from anywhere; running it again changes nothing.
#   sh scripts/setup.sh          what the CLI, the library and scripts/demo.sh need
#   sh scripts/setup.sh --test   that, and the peers and clients the test suite uses (~220 MB more)
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
tests=false
case "${1:-}" in
  '') ;;
  --test) tests=true ;;
  -h|--help) sed -n '2,5s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "setup.sh: unknown option '$1' (use --test for what the tests need, or nothing)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (sudo sh scripts/setup.sh, or from a root shell)" >&2; exit 1; }
command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1 || {
  echo "setup.sh: this script installs Debian/Ubuntu packages (apt-get); elsewhere install a C compiler and libseccomp's headers (Fedora: gcc libseccomp-devel; Alpine: build-base libseccomp-dev) and Node.js 20+, then run npm ci" >&2
  exit 1
}

# hako itself: a C compiler and libseccomp for the helper, newuidmap/newgidmap for a user's id
# maps, a static busybox for the demo's container; ip and ps, which the demo shows
packages="build-essential libseccomp-dev uidmap busybox-static iproute2 procps"
# the tests: the toolkit's peers (zsh and groff check the completion and the man page), then the
# OCI runtimes and clients hako is measured and tested against
$tests && packages="$packages util-linux bsdutils jq hyperfine time zsh groff-base
  runc crun podman containerd skopeo umoci containernetworking-plugins bubblewrap
  slirp4netns wget passwd"
missing=
for p in $packages; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q ' installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup.sh: installing$missing"
  apt-get update
  apt-get install -y $missing
else
  echo "setup.sh: system packages already installed"
fi

node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null || {
  echo "setup.sh: hako needs Node.js 20 or newer on PATH (Debian 12's own nodejs is 18)" >&2; exit 1; }

# npm ci as the checkout's owner, so that running this with sudo leaves no root-owned files
cd "$repo"
owner=$(stat -c %U .)
if [ "$owner" = root ] || [ "$owner" = UNKNOWN ]; then
  npm ci
else
  runuser -u "$owner" -- env HOME="$(getent passwd "$owner" | cut -d: -f6)" npm ci
fi
