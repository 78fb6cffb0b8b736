/* tests/unit/test_uring_refused.c: when the kernel refuses io_uring (as
 * Docker's default seccomp profile does), StartListening returns
 * -RW_EURING_UNAVAILABLE and the reason names the cause; nothing crashes.
 * The refusal is made real with a seccomp filter that answers io_uring_setup
 * with EPERM (or ENOSYS), installed in the test's own process (Criterion runs
 * each test in its own process). */
#include <ringworks/ringworks.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static void refuse_io_uring(int err)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(filter) / sizeof(filter[0]), filter};
	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

static void expect_refusal(const char *needle)
{
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	int rc = rw_tcpserver_start_listening(s);
	cr_assert_eq(rc, -RW_EURING_UNAVAILABLE, "got %d (%s)", rc, rw_strerror(rc));
	cr_assert(strstr(rw_strerror(rc), "io_uring") != NULL);
	cr_assert(strstr(rw_strerror(rc), needle) != NULL, "text: %s", rw_strerror(rc));
	cr_assert(strstr(rw_loop_unavailable_reason(), needle) != NULL,
	          "reason: %s", rw_loop_unavailable_reason());
	cr_assert_eq(rw_tcpserver_get_listening(s), false);
	cr_assert_eq(rw_tcpserver_do_events(s), -RW_EBAD_STATE);
	rw_tcpserver_free(s);
}

Test(uring_refused, eperm_names_seccomp_and_sysctl)
{
	refuse_io_uring(EPERM);
	expect_refusal("seccomp");
	cr_assert(strstr(rw_loop_unavailable_reason(), "io_uring_disabled") != NULL);
}

Test(uring_refused, enosys_names_kernel)
{
	refuse_io_uring(ENOSYS);
	expect_refusal("ENOSYS");
}

Test(uring_refused, shared_loop_creation_refused)
{
	refuse_io_uring(EPERM);
	rw_loop *loop = (rw_loop *)0x1;
	cr_assert_eq(rw_loop_new(&loop, NULL), -RW_EURING_UNAVAILABLE);
	cr_assert_null(loop);
}
