/* Hostile programs for the sandbox tests, built static by the test:
 *   threads      a thread bomb: threads that each start more, forever (the pids limit counts
 *                threads); the first failure is printed once on stderr ("threads: N: ERRNO")
 *   reserve G M  a JVM-style heap: reserves G GiB of address space (PROT_NONE, MAP_NORESERVE),
 *                then makes M MiB of it writable and touches every page; prints "touched M" */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static atomic_int started;
static atomic_int reported;

static void *bomb(void *arg) {
    (void)arg;
    for (;;) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 64 * 1024);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &a, bomb, NULL);
        pthread_attr_destroy(&a);
        if (rc == 0) {
            atomic_fetch_add(&started, 1);
        } else if (atomic_exchange(&reported, 1) == 0) {
            fprintf(stderr, "threads: %d: %s\n", atomic_load(&started), strerrorname_np(rc));
        }
        usleep(1000);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "threads") == 0) {
        bomb(NULL);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "reserve") == 0) {
        size_t reserve = (size_t)strtoul(argv[2], NULL, 10) << 30;
        size_t touch = (size_t)strtoul(argv[3], NULL, 10) << 20;
        char *p = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            printf("mmap %s\n", strerrorname_np(errno));
            return 2;
        }
        printf("reserved %s\n", argv[2]);
        fflush(stdout);
        if (mprotect(p, touch, PROT_READ | PROT_WRITE) != 0) {
            printf("mprotect %s\n", strerrorname_np(errno));
            return 2;
        }
        for (size_t i = 0; i < touch; i += 4096) p[i] = 1;
        printf("touched %s\n", argv[3]);
        return 0;
    }
    fprintf(stderr, "usage: threads | reserve GIB MIB\n");
    return 2;
}
