#!/bin/sh
# Installs what hako needs on Debian 12 (or Ubuntu), then runs `npm ci` (which builds the C
# helper and the bundle). Run as root, from anywhere; running it again changes nothing.
#   sh scripts/setup.sh          what the CLI, the library and scripts/demo.sh need
#   sh scripts/setup.sh --test   that, and the peers and clients the test suite uses (~400 MB more,
#                                docker.io and crictl included; no daemon is started or enabled)
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
# maps, a static busybox for the demo's container; ip and ps, which the demo shows; setfattr
# (attr) and mknod (coreutils) for unpacking image layers (opaque dirs, xattrs, whiteouts)
packages="build-essential libseccomp-dev uidmap busybox-static iproute2 procps attr coreutils"
# the tests: the toolkit's peers (zsh and groff check the completion and the man page), then the
# OCI runtimes and clients hako is measured and tested against
$tests && packages="$packages util-linux bsdutils jq hyperfine time zsh groff-base
  runc crun podman containerd skopeo umoci containernetworking-plugins bubblewrap
  slirp4netns passt wget passwd xz-utils python3 fuse-overlayfs"
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

if $tests; then
  # Docker 20.10 (test/clients drives its own dockerd with hako as a runtime). Without its
  # recommends (cgroupfs-mount would mount cgroups at boot, needrestart restarts services), and
  # with service starts denied while it installs when nothing else denies them: a dockerd
  # started by the package would add a docker0 bridge and iptables rules to the host.
  # docker-registry (the image pull test runs its own on 127.0.0.1) likewise: its service would
  # listen on :5000 of every interface
  # install_quiet PACKAGE WHAT: apt-get install without recommends, with service starts denied
  # while it installs (unless something else denies them already)
  install_quiet() {
    dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q ' installed$' && return 0
    echo "setup.sh: installing $1 (no $2 is started)"
    policy=/usr/sbin/policy-rc.d
    made_policy=false
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# setup.sh: no service starts while %s installs\nexit 101\n' "$1" >"$policy"
      chmod 755 "$policy"
      made_policy=true
    fi
    rc=0
    apt-get install -y --no-install-recommends "$1" || { apt-get update && apt-get install -y --no-install-recommends "$1"; } || rc=$?
    $made_policy && rm -f "$policy"
    [ "$rc" = 0 ] || { echo "setup.sh: apt-get install $1 failed" >&2; exit 1; }
  }
  install_quiet docker-registry service
  install_quiet docker.io daemon
  # crictl (Kubernetes' CRI client; Debian 12 has no cri-tools): the checkout's copy, checked
  crictl_xz="$repo/tools/crictl/crictl-v1.26.1-linux-amd64.xz"
  crictl_sha=e0202c3e67da751fa7cd8b2b218914822f5f53ffa03bd90518995f3bf996b485
  if [ "$(sha256sum /usr/local/bin/crictl 2>/dev/null | cut -d' ' -f1)" != "$crictl_sha" ]; then
    tmp=$(mktemp /usr/local/bin/.crictl.XXXXXX)
    xz -dc "$crictl_xz" >"$tmp" || { rm -f "$tmp"; echo "setup.sh: cannot unpack $crictl_xz" >&2; exit 1; }
    got=$(sha256sum "$tmp" | cut -d' ' -f1)
    [ "$got" = "$crictl_sha" ] || { rm -f "$tmp"; echo "setup.sh: $crictl_xz unpacks to sha256 $got, expected $crictl_sha" >&2; exit 1; }
    chmod 755 "$tmp" && mv -f "$tmp" /usr/local/bin/crictl
    echo "setup.sh: installed /usr/local/bin/crictl (v1.26.1)"
  fi
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
