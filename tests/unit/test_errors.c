/* tests/unit/test_errors.c: error texts and the errno -> documented-number map. */
#include <ringworks/ringworks.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

Test(errors, documented_texts)
{
	cr_assert_str_eq(rw_strerror(-RW_EWOULDBLOCK), "[10035] Operation would block.");
	cr_assert_str_eq(rw_strerror(RW_EWOULDBLOCK), "[10035] Operation would block.");
	cr_assert_str_eq(rw_strerror(-RW_EINVALID_CONNID), "Invalid ConnectionId.");
	cr_assert_str_eq(rw_strerror(-RW_EALREADY_LISTENING), "TCPServer is already listening.");
	cr_assert_str_eq(rw_strerror(-RW_ETIMEDOUT), "[10060] Connection timed out.");
	cr_assert_str_eq(rw_strerror(0), "OK");
	cr_assert_str_eq(rw_strerror(-123456), "Unknown error");
	cr_assert(strstr(rw_strerror(-RW_EURING_UNAVAILABLE), "io_uring") != NULL);
}

Test(errors, errno_map_uses_winsock_numbers)
{
	cr_assert_eq(rw_errno_map(ECONNRESET), 10054);
	cr_assert_eq(rw_errno_map(-ECONNRESET), 10054);
	cr_assert_eq(rw_errno_map(EAGAIN), 10035);
	cr_assert_eq(rw_errno_map(EADDRINUSE), 10048);
	cr_assert_eq(rw_errno_map(EPIPE), 10058);
	cr_assert_eq(rw_errno_map(ETIMEDOUT), 10060);
	cr_assert_eq(rw_errno_map(EINTR), 10004);
	cr_assert_eq(rw_errno_map(ENOENT), 20000 + ENOENT);
	cr_assert_str_eq(rw_strerror(-(20000 + ENOENT)), "No such file or directory.");
	cr_assert_eq(rw_errno_map(0), 0);
}

Test(errors, version_is_set)
{
	cr_assert(strncmp(rw_version(), RW_VERSION_STRING, strlen(RW_VERSION_STRING)) == 0);
}
