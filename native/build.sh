#!/bin/sh
# Builds the helper with the system C compiler (run by npm as the package's install step, and by
# the project's own builds). A user's compiler may warn where ours does not, so warnings fail the
# build only when HAKO_WERROR=1 (npm test, npm run build and CI set it).
set -eu
cd "$(dirname "$0")"
CC=${CC:-cc}
werror=
[ "${HAKO_WERROR:-0}" = 1 ] && werror=-Werror
need="hako: building the helper needs a C compiler and libseccomp's headers: install build-essential libseccomp-dev (Debian, Ubuntu), gcc libseccomp-devel (Fedora) or build-base libseccomp-dev (Alpine)"
# the compiler and the header are checked first, so a missing one is one line, not compiler noise
if ! command -v "${CC%% *}" >/dev/null 2>&1; then
  echo "$need (no C compiler '$CC')" >&2
  exit 1
fi
# shellcheck disable=SC2086 # CC and CFLAGS may hold several words, as make allows
if ! printf '#include <seccomp.h>\nint main(void) { return 0; }\n' | $CC ${CFLAGS:-} -x c -o /dev/null - >/dev/null 2>&1; then
  echo "$need (no seccomp.h for '$CC')" >&2
  exit 1
fi
# linked statically (a static PIE: still randomized) where the C library and libseccomp have
# their static archives (Debian's and Alpine's -dev packages do): every start of the helper
# (bin/hako's front, each sealed H0) then skips the dynamic loader, ~0.13 ms each; else
# dynamically. HAKO_STATIC=0 asks for a dynamic build.
static=
# shellcheck disable=SC2086
if [ "${HAKO_STATIC:-1}" != 0 ] && printf '#include <seccomp.h>\nint main(void) { return seccomp_api_get() < 0; }\n' |
    $CC ${CFLAGS:-} -static-pie -x c -o /dev/null - -lseccomp >/dev/null 2>&1; then
  static=-static-pie
fi
# shellcheck disable=SC2086
$CC -std=c11 -O2 -Wall -Wextra $werror -D_FORTIFY_SOURCE=2 ${CFLAGS:-} $static -o hako-helper.tmp main.c session.c op.c ops.c proto.c fsops.c copyup.c procops.c seccomp.c console.c bpf.c oomwatch.c front.c zygote.c sealed.c -lseccomp
# 0755 whatever the umask: hako refuses to run a helper that group or others can write
chmod 755 hako-helper.tmp
mv hako-helper.tmp hako-helper
