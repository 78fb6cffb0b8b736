/* tests/unit/test_uring_refused.c: when the kernel refuses io_uring (as
 * Docker's default seccomp profile does), Backend=uring makes StartListening
 * return -RW_EURING_UNAVAILABLE with a reason that names the cause, and
 * Backend=auto (the default) falls back to the epoll backend, says why once
 * in the log, and serves. The refusal is made real with a seccomp filter
 * that answers io_uring_setup with EPERM (or ENOSYS), installed in the test's
 * own process (Criterion runs each test in its own process). */
#include <ringworks/ringworks.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
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
	cr_assert_eq(rw_tcpserver_config(s, "Backend=uring", NULL, 0), 0);
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
	rw_loop_options o = {.backend = RW_BACKEND_URING};
	cr_assert_eq(rw_loop_new(&loop, &o), -RW_EURING_UNAVAILABLE);
	cr_assert_null(loop);
}

/* ---- Backend=auto: the fallback --------------------------------------------- */

struct seen {
	char log[4][600];
	int logs;
	rw_connid id;
};

static void on_log(rw_tcpserver *s, int level, const char *msg, void *user)
{
	(void)s;
	struct seen *w = user;
	if (level <= RW_LOG_WARN && w->logs < 4)
		snprintf(w->log[w->logs++], sizeof(w->log[0]), "%s", msg);
}

static void on_data(rw_tcpserver *s, const rw_tcpserver_data_in *e, void *user)
{
	(void)user;
	rw_tcpserver_send(s, e->connection_id, e->text, e->text_len);
}

/* A real client round trip on the fallback: the server echoes. */
static void echo_once(rw_tcpserver *s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)rw_tcpserver_get_local_port(s))};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(send(fd, "ping over epoll", 15, 0), 15);
	char buf[32];
	size_t got = 0;
	for (int i = 0; i < 500 && got < 15; i++) {
		rw_tcpserver_do_events(s);
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
	}
	cr_assert_eq(got, 15u);
	cr_assert_eq(memcmp(buf, "ping over epoll", 15), 0);
	close(fd);
}

static void expect_fallback(int err, const char *needle)
{
	refuse_io_uring(err);
	struct seen w = {0};
	rw_tcpserver_events ev = {.log = on_log, .data_in = on_data};
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_events(s, &ev, &w);
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	rw_tcpserver_config(s, "DoEventsTimeout=10", NULL, 0);
	char b[16];
	cr_assert_gt(rw_tcpserver_config(s, "Backend", b, sizeof(b)), 0);
	cr_assert_str_eq(b, "auto");
	int rc = rw_tcpserver_start_listening(s);
	cr_assert_eq(rc, 0, "got %d (%s)", rc, rw_strerror(rc));
	cr_assert_gt(rw_tcpserver_config(s, "Backend", b, sizeof(b)), 0);
	cr_assert_str_eq(b, "epoll");
	cr_assert_eq(rw_tcpserver_config(s, "Backend=uring", NULL, 0), -RW_EBAD_STATE);
	cr_assert(strstr(rw_loop_unavailable_reason(), needle) != NULL, "reason: %s",
	          rw_loop_unavailable_reason());
	cr_assert_eq(w.logs, 1, "the fallback is logged once");
	cr_assert(strstr(w.log[0], "epoll") && strstr(w.log[0], needle), "log: %s", w.log[0]);
	echo_once(s);
	/* Stop and start again on the same loop: not logged a second time. */
	rw_tcpserver_stop_listening(s);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	echo_once(s);
	cr_assert_eq(w.logs, 1);
	rw_tcpserver_free(s);
}

Test(uring_refused, auto_falls_back_to_epoll_on_eperm)
{
	expect_fallback(EPERM, "seccomp");
}

Test(uring_refused, auto_falls_back_to_epoll_on_enosys)
{
	expect_fallback(ENOSYS, "ENOSYS");
}

Test(uring_refused, shared_loop_auto_falls_back)
{
	refuse_io_uring(EPERM);
	rw_loop *loop = NULL;
	cr_assert_eq(rw_loop_new(&loop, NULL), 0);
	cr_assert_eq(rw_loop_backend(loop), RW_BACKEND_EPOLL);
	cr_assert_eq(rw_loop_free(loop), 0);
}

Test(uring_refused, environment_selects_the_backend)
{
	/* No filter: RINGWORKS_BACKEND replaces auto, never an explicit choice. */
	rw_loop *loop = NULL;
	setenv("RINGWORKS_BACKEND", "epoll", 1);
	cr_assert_eq(rw_loop_new(&loop, NULL), 0);
	cr_assert_eq(rw_loop_backend(loop), RW_BACKEND_EPOLL);
	rw_loop_free(loop);
	/* A multi-worker server reports its workers' backend. */
	rw_tcpserver *s = rw_tcpserver_new();
	rw_tcpserver_set_local_host(s, "127.0.0.1");
	cr_assert_eq(rw_tcpserver_config(s, "Workers=2", NULL, 0), 0);
	cr_assert_eq(rw_tcpserver_start_listening(s), 0);
	char b[16];
	cr_assert_gt(rw_tcpserver_config(s, "Backend", b, sizeof(b)), 0);
	cr_assert_str_eq(b, "epoll");
	rw_tcpserver_free(s);
	rw_loop_options o = {.backend = RW_BACKEND_URING};
	cr_assert_eq(rw_loop_new(&loop, &o), 0);
	cr_assert_eq(rw_loop_backend(loop), RW_BACKEND_URING);
	rw_loop_free(loop);
	setenv("RINGWORKS_BACKEND", "kqueue", 1);
	cr_assert_eq(rw_loop_new(&loop, NULL), -RW_EBAD_VALUE);
	o.backend = 7;
	cr_assert_eq(rw_loop_new(&loop, &o), -RW_EBAD_VALUE);
}
