#!/bin/sh
# hako's command line as npm installs it (package.json "bin"). In a checkout, bin/hako is a link to
# the native front itself (native/hako-helper, which runs as the front by the name "hako": main.c),
# which does what this script does without a shell and a stat; npm packs no symlink, so the package
# installs this one. Node is started without NODE_EXTRA_CA_CERTS, whose CA bundle Node would
# parse at every start (30 ms here) though only `image pull` makes TLS connections (it reads the
# file then); the variable goes back into the environment of everything hako runs (src/cli/main.ts).
if [ -n "${NODE_EXTRA_CA_CERTS+set}" ]; then
  HAKO_NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS
  export HAKO_NODE_EXTRA_CA_CERTS
  unset NODE_EXTRA_CA_CERTS
fi
case $0 in
  */*) self=$0 ;;
  *) self=$(command -v "$0") ;;
esac
# npm links bin/hako from node_modules/.bin: find the real file
[ -L "$self" ] && self=$(readlink -f "$self")
# The native front (docs/SERVER.md): runs the command through `hako serve` when this user's server
# answers, and otherwise execs `node start.cjs` as below. It is the package's own helper, and runs as
# the caller (root, often): only when nobody else could have replaced it, as hako vets the helper
# (src/helper/session.ts checkHelper): a regular file (no symlink), it and its directory not
# writable by group or others, owned by root, this user or the package's owner. Otherwise Node
# starts, and says what is wrong with the helper when a command needs it. With HAKO_HELPER (another
# helper than the package's) Node starts too.
root=${self%/bin/*}
front=$root/native/hako-helper
vetted() {
  [ -z "${HAKO_HELPER+set}" ] && [ "$root" != "$self" ] && [ -f "$front" ] && [ ! -L "$front" ] && [ -x "$front" ] || return 1
  # (LC_ALL=C: stat loads no locale files)
  # shellcheck disable=SC2046 # three words a line: uid, mode, and the next file's
  set -- $(LC_ALL=C stat -c '%u %a' "$front" "$root/native" "$root" 2>/dev/null) && [ $# = 6 ] || return 1
  for f in "$1 $2" "$3 $4"; do
    uid=${f% *} mode=${f#* }
    case $mode in *[2367]? | *[2367]) return 1 ;; esac
    [ "$uid" = 0 ] || [ "$uid" = "$5" ] || [ "$uid" = "$(id -u)" ] || return 1
  done
}
vetted && exec "$front" --front "${self%/*}/start.cjs" "$@"
exec node "${self%/*}/start.cjs" "$@"
