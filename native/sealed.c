/* Running from a sealed copy of the helper (CVE-2019-5736): nothing a container runs may write to
 * the helper's binary through /proc/PID/exe while, or after, a helper runs in it. Two copies, the
 * first that can be made:
 *   - a read-only overlay whose only layers are the binary's directory and /dev (overlayfs needs two
 *     lower layers when it has no upper one; the binary's is on top), made with fsopen(2) and never
 *     attached anywhere: no mount table shows it, nobody can remount it, and it copies nothing (runc
 *     1.2 does the same). It needs CAP_SYS_ADMIN: root's helpers.
 *   - a memfd copy of the binary, sealed against writing, growing and shrinking (~0.5 ms for the
 *     static helper, and the memory of a copy per helper).
 * Both are executed with execveat(2) on the open file. */
#define _GNU_SOURCE
#include "sealed.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* The second layer under the binary's directory: any directory that neither holds nor is held by
 * it will do, since only the binary's name is opened, from the top layer. */
#define SEALED_LOWER "/dev"

static int exec_fd(int fd, char **argv) {
    syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
    return -1;
}

/* The read-only overlay copy, opened (O_PATH) at path's name; -1 (errno) if it cannot be made. */
static int overlay_copy(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path || !slash[1]) return errno = EINVAL, -1;
    char dir[4096], lower[4096 + sizeof SEALED_LOWER];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    snprintf(lower, sizeof lower, "%s:" SEALED_LOWER, dir);
    /* overlayfs reads ':' and '\' in a layer's path as its own syntax; and an overlay of an
     * overlay may be too deep a stack, which the kernel would log at each try: both left to the
     * memfd copy */
    struct statfs sf;
    if (strpbrk(dir, ":\\") || statfs(dir, &sf) < 0 || sf.f_type == OVERLAYFS_SUPER_MAGIC) return errno = EINVAL, -1;
    _cleanup_fd_ int ctx = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (ctx < 0) return -1;
    if (syscall(SYS_fsconfig, ctx, FSCONFIG_SET_STRING, "lowerdir", lower, NULL, 0) < 0) return -1;
    (void)syscall(SYS_fsconfig, ctx, FSCONFIG_SET_STRING, "xino", "off", NULL, 0); /* else a log line where the layers' filesystems differ */
    if (syscall(SYS_fsconfig, ctx, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) return -1;
    _cleanup_fd_ int mnt = (int)syscall(SYS_fsmount, ctx, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
    if (mnt < 0) return -1;
    return openat(mnt, slash + 1, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

/* MFD_EXEC (Linux 6.3) says so where vm.memfd_noexec would otherwise refuse to exec it */
#define MFD_EXEC_FLAG 0x0010U

/* The sealed memfd copy of the open file src; -1 (errno) if it cannot be made. */
static int memfd_copy(int src) {
    int mem = memfd_create("hako-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC_FLAG);
    if (mem < 0 && errno == EINVAL) mem = memfd_create("hako-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mem < 0) return -1;
    struct stat st;
    int ok = fstat(src, &st) == 0;
    for (off_t done = 0; ok && done < st.st_size;) {
        ssize_t n = sendfile(mem, src, NULL, (size_t)(st.st_size - done));
        if (n == 0) errno = EIO;
        ok = n > 0;
        done += n > 0 ? n : 0;
    }
    if (ok && fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0) return mem;
    int e = errno;
    close(mem);
    return errno = e, -1;
}

int reexec_sealed(char **argv) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0 && (size_t)n < sizeof self - 1) {
        self[n] = 0;
        _cleanup_fd_ int copy = overlay_copy(self);
        if (copy >= 0) exec_fd(copy, argv); /* failed: the memfd */
    }
    _cleanup_fd_ int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (src < 0) return -1;
    _cleanup_fd_ int mem = memfd_copy(src);
    if (mem < 0) return -1;
    return exec_fd(mem, argv);
}

int running_sealed(void) {
    char link[4096];
    ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
    if (n <= 0) return 0;
    link[n] = 0;
    if (strncmp(link, "/memfd:hako-helper", 18) == 0) return 1;
    /* the overlay copy: attached nowhere, its path is its name at its own root; and it is an
     * overlay, mounted read-only */
    struct statfs sf;
    return link[0] == '/' && !strchr(link + 1, '/') && statfs("/proc/self/exe", &sf) == 0 &&
           sf.f_type == OVERLAYFS_SUPER_MAGIC && (sf.f_flags & ST_RDONLY);
}
