/* without_waitv PROGRAM [ARG...]: runs PROGRAM where futex_waitv is refused
 * (EPERM), as a container's seccomp profile may refuse it, so that the
 * channel tests prove the fallback (one futex a waiter, common/chan.c) as
 * well as the fast path. Checks first that the refusal holds. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449 /* the same on every architecture */
#endif

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: without_waitv PROGRAM [ARG...]\n");
        return 2;
    }
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex_waitv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        int err = errno;
        fprintf(stderr, "without_waitv: cannot install the filter: %s\n", strerror(err));
        if (err == EINVAL) { /* no seccomp filters here: qemu-user has none to give */
            fprintf(stderr, "skipped: this system filters no system calls, so none is refused "
                            "here either\n");
            return 77;
        }
        return 1;
    }
    if (syscall(SYS_futex_waitv, NULL, 0, 0, NULL, 0) != -1 || errno != EPERM) {
        fprintf(stderr, "without_waitv: futex_waitv is not refused (errno %d)\n", errno);
        return 1;
    }
    execv(argv[1], argv + 1);
    fprintf(stderr, "without_waitv: cannot run %s: %s\n", argv[1], strerror(errno));
    return 1;
}
