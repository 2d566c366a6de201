#!/bin/sh
# oci-lifecycle.sh RUNTIME STATE_ROOT BUNDLE ID: create, start, wait for the exit, delete, through
# an OCI runtime's CLI (runc's verbs) - as containerd and podman drive it. (bench/oci.sh)
set -e
rt=$1 root=$2 b=$3 id=$4 pidf=$2/.lifecycle-$$.pid
"$rt" --root "$root" create --bundle "$b" --pid-file "$pidf" "$id" >/dev/null
pid=$(cat "$pidf"); rm -f "$pidf"
"$rt" --root "$root" start "$id"
# the container process is not our child: poll until it is gone or a zombie
while read -r _ _ st _ <"/proc/$pid/stat" 2>/dev/null && [ "$st" != Z ]; do :; done
"$rt" --root "$root" delete "$id"
