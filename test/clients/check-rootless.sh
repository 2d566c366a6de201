#!/usr/bin/env bash
# check-rootless.sh RUNTIME_PATH
#
# Rootless podman driving an OCI runtime: as root, makes a normal user of its own (useradd, a
# unique name, its own /etc/subuid and /etc/subgid range, its own XDG_RUNTIME_DIR and podman
# storage under a temporary directory), imports a busybox image made from the host's
# busybox-static as that user, and runs the eight rootless checks with
# `podman --runtime RUNTIME_PATH` as the user: conmon and the runtime then run as uid 0 of the
# user's namespace, not as real root. Prints "PASS name" / "FAIL name -- why" per check, then
# "N passed, M failed"; exit status 0 only if nothing failed.
#
# At the end (and on any exit) it removes everything it made: the user's processes (by uid, each by
# pid), the user, its subuid/subgid lines, and the temporary directory; then checks that nothing is
# left and prints "LEFTOVER what" for anything that is (and fails).
#
# This machine's /dev/net/tun may be 0600 (Debian's udev makes it 0666): slirp4netns, which opens
# it as the user, then fails for any runtime. The user's commands then run in a private mount
# namespace (made private, then shared again inside: nothing propagates to the host) where a
# 0666 node of the same device is bound over /dev/net/tun; the host's /dev is untouched.
set -u

[ $# -eq 1 ] || { echo "usage: $0 RUNTIME_PATH" >&2; exit 2; }
RT=$1
case $RT in /*) ;; *) RT="$(cd "$(dirname "$RT")" && pwd)/$(basename "$RT")" ;; esac
[ -x "$RT" ] || { echo "not an executable: $RT" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "must run as root (it makes a user)" >&2; exit 2; }
for c in podman conmon newuidmap newgidmap slirp4netns useradd userdel runuser script unshare setpriv timeout wget; do
  command -v $c >/dev/null || { echo "missing: $c (sh scripts/setup.sh --test)" >&2; exit 2; }
done
[ -x /bin/busybox ] || { echo "missing: /bin/busybox (busybox-static)" >&2; exit 2; }

T=90                                   # timeout (s) of each podman command
USR=hkrl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
BASE=$(mktemp -d /tmp/hako-rootless-check.XXXXXX)
chmod 755 "$BASE"
HOMED=$BASE/home XDG=$BASE/xdg IMGDIR=$BASE/img TUNDIR=$BASE/tun
IMG=localhost/rlbox:latest
PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
pass=0; fail=0; UID_N=
echo "USER $USR BASE $BASE"

user_pids() {  # the live processes of the user and of its subordinate ids (its containers' users)
  [ -n "$UID_N" ] || return 0
  # by the ids in status, not by who owns /proc/PID: a process that made itself non-dumpable (hako's
  # helper does, as runc's nsexec) shows as owned by root there, and so was missed
  local f k v rest uid state lo=${START:-0}
  for f in /proc/[0-9]*/status; do
    uid= state=
    while read -r k v rest; do
      case $k in State:) state=$v ;; Uid:) uid="$v $rest"; break ;; esac
    done 2>/dev/null < "$f"
    [ -n "$uid" ] && [ "$state" != Z ] || continue
    for x in $uid; do
      if [ "$x" = "$UID_N" ] || { [ "$lo" -gt 0 ] && [ "$x" -ge "$lo" ] && [ "$x" -lt $((lo + 65536)) ]; }; then
        f=${f#/proc/}; echo "${f%/status}"; break
      fi
    done
  done
}
describe_pids() {  # PID... -> one line each: pid, state, parent, name, command line
  local p
  for p in "$@"; do
    echo "  $p $(awk '/^(State|PPid|Name|Uid):/{printf "%s ", $0}' /proc/$p/status 2>/dev/null | tr '\t' ' ')cmd=$(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)"
  done
}
cleanup() {
  local i p quiet=0
  if [ -n "$UID_N" ]; then
    # until none is seen twice in a row, 0.3 s apart: a process the user's last one started as it
    # ended (conmon's exit command, `podman container cleanup`) may not exist yet at the first look
    for i in $(seq 1 30); do
      p=$(user_pids)
      if [ -z "$p" ]; then
        quiet=$((quiet + 1)); [ $quiet -ge 2 ] && break
      else
        quiet=0
        for x in $p; do kill -KILL "$x" 2>/dev/null; done
      fi
      sleep 0.3
    done
  fi
  if id "$USR" >/dev/null 2>&1; then userdel "$USR" >/dev/null 2>&1 || echo "userdel $USR failed" >&2; fi
  for f in /etc/subuid /etc/subgid; do
    grep -q "^$USR:" $f 2>/dev/null && sed -i "/^$USR:/d" $f
  done
  # the storage holds files of the user's subordinate ids: removed as root
  rm -rf "$BASE"
  # nothing left
  local left=0
  p=$(user_pids); [ -n "$p" ] && { echo "LEFTOVER processes of $USR: "$p; describe_pids $p; left=1; }
  getent passwd "$USR" >/dev/null && { echo "LEFTOVER user $USR"; left=1; }
  grep -qs "^$USR:" /etc/subuid /etc/subgid && { echo "LEFTOVER subuid/subgid lines of $USR"; left=1; }
  [ -e "$BASE" ] && { echo "LEFTOVER $BASE"; left=1; }
  grep -q "$BASE" /proc/self/mountinfo && { echo "LEFTOVER mounts under $BASE"; left=1; }
  [ $left = 0 ] && echo "CLEAN"
  return $left
}
finish() { local rc=$?; cleanup || rc=1; exit $rc; }
trap finish EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the user
useradd -M -d "$HOMED" -s /bin/sh "$USR" || { echo "useradd failed" >&2; exit 2; }
UID_N=$(id -u "$USR")
# its own range, after every range in use (useradd may have given one: replaced, so the range is known)
for f in /etc/subuid /etc/subgid; do [ -e $f ] && sed -i "/^$USR:/d" $f; touch $f; done
START=$(cat /etc/subuid /etc/subgid | awk -F: 'BEGIN{m=200000} {e=$2+$3; if (e>m) m=e} END{print m}')
START=$(( (START + 65535) / 65536 * 65536 ))
echo "$USR:$START:65536" >> /etc/subuid
echo "$USR:$START:65536" >> /etc/subgid
mkdir -p "$HOMED" "$XDG" "$TUNDIR"
chown "$USR:" "$HOMED" "$XDG"; chmod 700 "$XDG"

# the image: the host's static busybox, a passwd, a page to serve
mkdir -p "$IMGDIR/bin" "$IMGDIR/etc" "$IMGDIR/tmp" "$IMGDIR/www"
cp /bin/busybox "$IMGDIR/bin/busybox"
for a in sh echo cat ls id sleep tty httpd hostname true; do ln -s busybox "$IMGDIR/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$IMGDIR/etc/passwd"
printf 'root:x:0:\n' > "$IMGDIR/etc/group"
echo "served by busybox" > "$IMGDIR/www/index.html"
chmod 1777 "$IMGDIR/tmp"

NEED_TUN=0
[ "$(stat -c %a /dev/net/tun 2>/dev/null)" = 666 ] || NEED_TUN=1
cat > "$BASE/as-user.sh" <<EOF
#!/bin/sh
# as-user.sh CMD...: CMD as $USR, with its own XDG_RUNTIME_DIR and storage
if [ $NEED_TUN = 1 ] && [ "\${RL_IN_NS:-}" != 1 ]; then
  exec unshare -m --propagation private env RL_IN_NS=1 "\$0" "\$@"
fi
if [ "\${RL_IN_NS:-}" = 1 ]; then
  mount --make-rshared / &&
  mount -t tmpfs -o size=16k,mode=755 tmpfs "$TUNDIR" &&
  mknod -m 666 "$TUNDIR/tun" c 10 200 &&
  mount --bind "$TUNDIR/tun" /dev/net/tun || exit 125
fi
cd "$HOMED"
exec setpriv --reuid $UID_N --regid $(id -g "$USR") --init-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  HOME="$HOMED" USER="$USR" LOGNAME="$USR" XDG_RUNTIME_DIR="$XDG" XDG_CONFIG_HOME="$HOMED/.config" \
  XDG_DATA_HOME="$HOMED/.local/share" TERM="\${TERM:-xterm}" "\$@"
EOF
chmod 755 "$BASE/as-user.sh"
U=("$BASE/as-user.sh")
PD=(podman --root "$HOMED/storage" --runroot "$XDG/containers" --cgroup-manager=cgroupfs --events-backend=file)
PR=("${PD[@]}" --runtime "$RT")

# ---------------------------------------------------------------- checks
result() {
  if [ "$1" = 0 ]; then echo "PASS $2"; pass=$((pass+1))
  else echo "FAIL $2${3:+  -- $3}"; fail=$((fail+1)); fi
}
# t NAME PATTERN CMD... -> PASS if CMD exits 0 within $T s and its output matches PATTERN (ERE)
t() {
  local name=$1 pat=$2 out rc; shift 2
  if declare -F "$1" >/dev/null; then out=$("$@" 2>&1 </dev/null); rc=$?
  else out=$(timeout $T "$@" 2>&1 </dev/null); rc=$?; fi
  if [ $rc -ne 0 ]; then result 1 "$name" "rc=$rc: $(printf '%s' "$out" | tail -c 400 | tr '\n' ' ')"; return 1; fi
  grep -qE -- "$pat" <<<"$out" || { result 1 "$name" "no /$pat/ in: $(printf '%s' "$out" | tail -c 400 | tr '\n' ' ')"; return 1; }
  result 0 "$name"
}
# on a pseudo-terminal (util-linux script)
tty_t() { local name=$1 pat=$2; shift 2; t "$name" "$pat" script -qec "$(printf '%q ' "$@")" /dev/null; }

# the image, imported as the user (no registry)
out=$(tar -C "$IMGDIR" -c . | timeout $T "${U[@]}" "${PD[@]}" import - $IMG 2>&1) ||
  { echo "FAIL setup/image -- $(printf '%s' "$out" | tail -c 400 | tr '\n' ' ')"; fail=$((fail+1)); echo "$pass passed, $fail failed"; exit 1; }

NONET=(--network none)
t rootless/1-run '^hello' "${U[@]}" "${PR[@]}" run --rm --name rl-a "${NONET[@]}" $IMG echo hello
t rootless/2-keep-id "^$UID_N\$" "${U[@]}" "${PR[@]}" run --rm --name rl-b "${NONET[@]}" --userns keep-id $IMG id -u
if t rootless/3-run-d-exec '^in-exec' sh -c "$(printf '%q ' "${U[@]}" "${PR[@]}") run -d --name rl-d ${NONET[*]} $IMG sleep 1000 >/dev/null && $(printf '%q ' "${U[@]}" "${PR[@]}") exec rl-d sh -c 'echo in-exec; id -u'"; then
  tty_t rootless/4-exec-t '/dev/pts/[0-9]+' "${U[@]}" "${PR[@]}" exec -t rl-d tty
  t rootless/5-stop '^exited' sh -c "$(printf '%q ' "${U[@]}" "${PR[@]}") stop -t 1 rl-d >/dev/null && $(printf '%q ' "${U[@]}" "${PR[@]}") inspect -f '{{.State.Status}}' rl-d"
else
  result 1 rootless/4-exec-t "no container (3 failed)"; result 1 rootless/5-stop "no container (3 failed)"
fi
tty_t rootless/6-run-t '/dev/pts/[0-9]+' "${U[@]}" "${PR[@]}" run --rm -t --name rl-t "${NONET[@]}" $IMG tty
# slirp4netns: a port published on the host's 127.0.0.1, reached from the host
fetch() {
  local i
  for i in $(seq 1 50); do
    wget -qO- "http://127.0.0.1:$PORT/index.html" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
if out=$(timeout $T "${U[@]}" "${PR[@]}" run -d --name rl-web --network slirp4netns -p 127.0.0.1:$PORT:8080 $IMG httpd -f -p 8080 -h /www 2>&1 </dev/null); then
  t rootless/7-slirp4netns-publish '^served by busybox' fetch
else
  result 1 rootless/7-slirp4netns-publish "run: $(printf '%s' "$out" | tail -c 400 | tr '\n' ' ')"
fi
# rm: every container goes, and the runtime's state with it
before=$(timeout $T "${U[@]}" "${PD[@]}" ps -a --format '{{.Names}}' 2>&1 | sort | tr '\n' ' ')
if [ "$before" = "rl-d rl-web " ]; then
  t rootless/8-rm 'rl-web' "${U[@]}" "${PR[@]}" rm -f -t 0 rl-d rl-web
else
  result 1 rootless/8-rm "expected the containers rl-d and rl-web to remove, podman ps -a has: $before"
  timeout $T "${U[@]}" "${PR[@]}" rm -a -f -t 0 >/dev/null 2>&1
fi
left=$(timeout $T "${U[@]}" "${PD[@]}" ps -a -q 2>&1)
[ -z "$left" ] || result 1 rootless/8-rm-empty "podman ps -a still lists: $left"
state=$(ls -A "$XDG/$(basename "$RT")" 2>/dev/null | grep -v '^@locks$')
[ -z "$state" ] || result 1 rootless/8-rm-state "the runtime's state in $XDG/$(basename "$RT") still has: $state"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
