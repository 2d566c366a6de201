#!/bin/sh
# Builds the helper with the system C compiler (run by `npm ci` as the install step).
set -eu
cd "$(dirname "$0")"
CC=${CC:-cc}
$CC -std=c11 -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -o hako-helper.tmp main.c ops.c proto.c fsops.c procops.c seccomp.c console.c bpf.c -lseccomp
# 0755 whatever the umask: hako refuses to run a helper that group or others can write
chmod 755 hako-helper.tmp
mv hako-helper.tmp hako-helper
