#!/bin/sh
# Installs what hako and its tests need on Debian 12, then runs `npm ci` (which builds the C
# helper and the bundle). Run as root, from anywhere; running it again changes nothing.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root: sudo sh scripts/setup.sh" >&2; exit 1; }

# the toolkit and its tests, then the OCI runtimes and clients hako is measured and tested against
packages="build-essential libseccomp-dev uidmap iproute2 procps util-linux bsdutils busybox-static jq hyperfine time
  runc crun podman containerd skopeo umoci containernetworking-plugins bubblewrap"
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

# npm ci as the checkout's owner, so that `sudo sh scripts/setup.sh` leaves no root-owned files
cd "$repo"
owner=$(stat -c %U .)
if [ "$owner" = root ] || [ "$owner" = UNKNOWN ]; then
  npm ci
else
  runuser -u "$owner" -- env HOME="$(getent passwd "$owner" | cut -d: -f6)" npm ci
fi
