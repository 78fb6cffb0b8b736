/* tests/helpers/seccomp_launch.c: run a program with io_uring refused, as
 * Docker's default seccomp profile refuses it.
 *
 *   seccomp_launch [--errno=EPERM|ENOSYS] PROGRAM [ARGS...]
 *
 * Installs a seccomp filter that answers io_uring_setup with EPERM (default)
 * or ENOSYS, then execs PROGRAM: the filter and no_new_privs are inherited,
 * so everything the program starts is refused too. Used to run test suites
 * where Backend=auto must fall back to epoll. Exits 127 when the filter
 * cannot be installed or the program cannot be started. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int err = EPERM, i = 1;
	if (i < argc && strncmp(argv[i], "--errno=", 8) == 0) {
		const char *v = argv[i++] + 8;
		if (strcmp(v, "ENOSYS") == 0)
			err = ENOSYS;
		else if (strcmp(v, "EPERM") != 0) {
			fprintf(stderr, "seccomp_launch: --errno takes EPERM or ENOSYS\n");
			return 127;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: seccomp_launch [--errno=EPERM|ENOSYS] PROGRAM [ARGS...]\n");
		return 127;
	}
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(filter) / sizeof(filter[0]), filter};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		perror("seccomp_launch: installing the filter");
		return 127;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "seccomp_launch: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
