/* src/tcpserver_send.c: Send, SendBytes, SendText, SendLine, send_owned and
 * SendFile. Timeout = 0: take what fits in the bounded queue, report the rest
 * with WOULDBLOCK. Timeout > 0: turn the loop (events keep firing) until all
 * is queued, the connection is idle for Timeout seconds, or Interrupt. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct rw_conn *sendable(rw_tcpserver *s, rw_connid id, int *err)
{
	struct rw_conn *c = rw__conn_find(s, id);
	if (!c)
		*err = -RW_EINVALID_CONNID;
	else if (c->flags & RW_C_CLOSING)
		*err = -RW_ENOTCONN;
	return (c && !(c->flags & RW_C_CLOSING)) ? c : NULL;
}

static uint32_t room(const struct rw_conn *c)
{
	uint32_t limit = c->srv->set.send_queue_limit;
	return c->sq_bytes >= limit ? 0 : limit - c->sq_bytes;
}

static uint32_t take(struct rw_conn *c, const uint8_t *data, size_t len)
{
	uint32_t n = room(c);
	if (n > len)
		n = (uint32_t)len;
	if (!n)
		return 0;
	if (c->tls) {
		/* Before the handshake nothing can be encrypted, and while a file
		 * streams its blocks are encrypted as they are read (conn_tls.c):
		 * WOULDBLOCK, and ReadyToSend follows. */
		if (!(c->flags & RW_C_TLS_OPEN) || c->files_pending)
			return 0;
		int rc = rw__tls_write(c->tls, data, n);
		if (rc < 0) {
			rw__conn_close(c, -rc, rw__tls_error_text(c->tls), true);
			return 0;
		}
		return n; /* the sink queued and scheduled the ciphertext */
	}
	n = rw__sendq_append(c->srv->loop, c, data, n);
	if (n)
		rw__flush_later(c->srv->loop, c);
	return n;
}

/* One loop turn on behalf of a blocking call; re-finds the connection, which
 * may have closed meanwhile. Returns NULL with *err set when the wait ends. */
static struct rw_conn *wait_turn(rw_tcpserver *s, rw_connid id, int64_t start, int *err)
{
	struct rw_conn *c = rw__conn_find(s, id);
	if (!c || (c->flags & RW_C_CLOSING)) {
		*err = -RW_ENOTCONN;
		return NULL;
	}
	if (c->flags & RW_C_INTERRUPT) {
		c->flags &= ~RW_C_INTERRUPT;
		*err = -RW_EINTERRUPTED;
		return NULL;
	}
	int64_t since = c->last_active > start ? c->last_active : start;
	int64_t left = since + (int64_t)c->timeout * 1000 - rw__now_ms();
	if (left <= 0) {
		*err = -RW_ETIMEDOUT;
		return NULL;
	}
	rw__blocking_wait(s, left < 100 ? (int)left : 100); /* a loop turn, or the worker's */
	c = rw__conn_find(s, id);
	if (!c || (c->flags & RW_C_CLOSING)) {
		*err = -RW_ENOTCONN;
		return NULL;
	}
	return c;
}

static int send_blocking(rw_tcpserver *s, struct rw_conn *c, const uint8_t *data, size_t len)
{
	rw_connid id = c->id;
	int64_t start = rw__now_ms();
	size_t done = 0;
	int err = 0;
	c->flags &= ~RW_C_INTERRUPT;
	c->bytes_sent = 0; /* documented: 0 in synchronous mode */
	for (;;) {
		done += take(c, data + done, len - done);
		if (done == len)
			return 0;
		if (!(c = wait_turn(s, id, start, &err)))
			return err;
	}
}

RW_API int rw_tcpserver_send(rw_tcpserver *s, rw_connid id, const void *data, size_t len)
{
	RW_ROUTE(s, id); /* Workers > 1: the connection's worker, locked */
	int err = 0;
	struct rw_conn *c = s ? sendable(s, id, &err) : NULL;
	if (!c)
		return s ? err : -RW_EINVAL;
	if (len && !data)
		return -RW_EINVAL;
	if (c->timeout > 0)
		return send_blocking(s, c, data, len);
	uint32_t n = take(c, data, len);
	c->bytes_sent = n;
	if (n < len) {
		c->flags |= RW_C_WOULDBLOCK;
		return -RW_EWOULDBLOCK;
	}
	return 0;
}

RW_API int rw_tcpserver_send_bytes(rw_tcpserver *s, rw_connid id, const void *data, size_t len)
{
	return rw_tcpserver_send(s, id, data, len);
}

RW_API int rw_tcpserver_send_text(rw_tcpserver *s, rw_connid id, const char *text)
{
	return rw_tcpserver_send(s, id, text, text ? strlen(text) : 0);
}

RW_API int rw_tcpserver_send_line(rw_tcpserver *s, rw_connid id, const char *text)
{
	RW_ROUTE(s, id); /* Workers > 1: the connection's worker, locked */
	int err = 0;
	struct rw_conn *c = s ? sendable(s, id, &err) : NULL;
	if (!c)
		return s ? err : -RW_EINVAL;
	size_t n = text ? strlen(text) : 0;
	if (c->timeout == 0 && room(c) < n + 2) {
		/* All or nothing, so a line is never torn by WOULDBLOCK. */
		c->bytes_sent = 0;
		c->flags |= RW_C_WOULDBLOCK;
		return -RW_EWOULDBLOCK;
	}
	int rc = rw_tcpserver_send(s, id, text, n);
	if (rc == 0)
		rc = rw_tcpserver_send(s, id, "\r\n", 2);
	/* BytesSent counts the whole line (0 stays 0 in blocking mode). */
	if (rc == 0 && (c = rw__conn_find(s, id)) && c->timeout == 0)
		c->bytes_sent = (int64_t)n + 2;
	return rc;
}

RW_API int rw_tcpserver_send_owned(rw_tcpserver *s, rw_connid id, const void *data, size_t len,
                                   void (*release)(const void *data, void *arg), void *arg)
{
	RW_ROUTE(s, id); /* Workers > 1: the connection's worker, locked */
	int err = 0;
	struct rw_conn *c = s ? sendable(s, id, &err) : NULL;
	if (!c)
		return s ? err : -RW_EINVAL;
	if ((len && !data) || len > UINT32_MAX)
		return -RW_EBAD_VALUE;
	if (c->tls) {
		/* TLS encrypts into the queue at once (all of it, as the plaintext
		 * path takes all of an owned buffer): the caller's memory is done
		 * with before this returns, and released right here. */
		if (!(c->flags & RW_C_TLS_OPEN) || c->files_pending) {
			c->flags |= RW_C_WOULDBLOCK;
			return -RW_EWOULDBLOCK; /* not taken: the caller keeps it */
		}
		int rc = rw__tls_write(c->tls, data, len);
		if (rc < 0) {
			rw__conn_close(c, -rc, rw__tls_error_text(c->tls), true);
			return rc;
		}
		if (release)
			release(data, arg);
		c->bytes_sent = (int64_t)len;
		return 0;
	}
	int rc = rw__sendq_append_owned(c, data, len, release, arg);
	if (rc == 0) {
		c->bytes_sent = (int64_t)len;
		rw__flush_later(s->loop, c);
	}
	return rc;
}

RW_API int rw_tcpserver_send_file(rw_tcpserver *s, rw_connid id, const char *path)
{
	RW_ROUTE(s, id); /* Workers > 1: the connection's worker, locked */
	int err = 0;
	struct rw_conn *c = s ? sendable(s, id, &err) : NULL;
	if (!c)
		return s ? err : -RW_EINVAL;
	if (!path)
		return -RW_EINVAL;
	if (c->tls && (!(c->flags & RW_C_TLS_OPEN) || c->files_pending)) {
		c->flags |= RW_C_WOULDBLOCK; /* one file at a time over TLS (conn_tls.c) */
		return -RW_EWOULDBLOCK;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return rw__errno(errno);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
		close(fd);
		return rw__errno(e ? e : EINVAL);
	}
	int rc = rw__sendq_append_file(c, fd, st.st_size);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	c->files_pending++;
	c->bytes_sent = 0;
	rw__flush_later(s->loop, c);
	if (c->timeout == 0) {
		c->flags |= RW_C_WOULDBLOCK; /* ReadyToSend reports completion */
		return 0;
	}
	int64_t start = rw__now_ms();
	c->flags &= ~RW_C_INTERRUPT;
	while (c->files_pending) {
		if (!(c = wait_turn(s, id, start, &err))) {
			c = rw__conn_find(s, id);
			for (struct rw_chunk *ch = c ? c->sq_head : NULL; ch; ch = ch->next)
				if (ch->kind == RW_CHUNK_FILE)
					ch->file_left = 0; /* drop the rest of the file */
			return err;
		}
	}
	return 0;
}
