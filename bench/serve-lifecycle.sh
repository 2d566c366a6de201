#!/bin/sh
# serve-lifecycle.sh RUNTIME STATE_ROOT BUNDLE ID: the verbs containerd's shim calls for one
# container, through an OCI runtime's CLI: create, start, state, kill, (the exit), delete. The
# bundle's process must run until it is killed (sleep). (bench/serve.sh)
set -e
rt=$1 root=$2 b=$3 id=$4 pidf=$2/.lifecycle-$$.pid
"$rt" --root "$root" create --bundle "$b" --pid-file "$pidf" "$id" >/dev/null
pid=$(cat "$pidf"); rm -f "$pidf"
"$rt" --root "$root" start "$id"
"$rt" --root "$root" state "$id" >/dev/null
"$rt" --root "$root" kill "$id" KILL
# the container process is not our child: poll until it is gone or a zombie
while read -r _ _ st _ <"/proc/$pid/stat" 2>/dev/null && [ "$st" != Z ]; do :; done
"$rt" --root "$root" delete "$id"
