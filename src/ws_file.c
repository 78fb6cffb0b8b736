/* src/ws_file.c: SendFile. The file goes out as one binary message
 * (fragmented by MaxFrameSize), read in 64 KiB pieces as the queue takes
 * them, so memory stays bounded whatever the file's size. The call blocks
 * (DESIGN D-09), running the loop so that events keep firing, and fails after
 * Timeout seconds without progress (60 s when Timeout is 0, so that no wait
 * is unbounded). Interrupt ends the message with an empty final frame, so
 * the stream stays valid, and the call returns RW_EINTERRUPTED. */
#include "ws_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_PIECE 65536
#define FILE_IDLE_S 60

/* Queue frames of the open message from d[0..n) while the queue has room;
 * returns the bytes taken. */
static size_t push_piece(struct rw_ws_conn *wc, struct rw_conn *c, const uint8_t *d, size_t n, int *err)
{
	uint32_t max_frame = rw__ws_of(c)->set.max_frame;
	size_t taken = 0;
	while (taken < n) {
		uint32_t room = rw__ws_room(c);
		if (room <= RW_WS_MAX_HEADER)
			break;
		size_t k = n - taken;
		if (k > max_frame)
			k = max_frame;
		if (k > room - RW_WS_MAX_HEADER)
			k = room - RW_WS_MAX_HEADER;
		bool fin = k == wc->tx_left;
		uint8_t h[RW_WS_MAX_HEADER];
		size_t hl = rw_ws_frame_header(h, wc->tx_opcode ? wc->tx_opcode : RW_WS_OP_CONT, fin, false, k);
		if ((*err = rw__ws_out(c, h, hl)) < 0 || (*err = rw__ws_out(c, d + taken, k)) < 0)
			return taken;
		wc->tx_opcode = 0;
		wc->tx_left -= k;
		taken += k;
		if (fin)
			wc->tx_open = false;
	}
	return taken;
}

RW_API int rw_wsserver_send_file(rw_wsserver *ws, rw_connid id, const char *path)
{
	RW_WS_ROUTE(ws, id);
	if (!ws || !path)
		return -RW_EINVAL;
	struct rw_conn *c;
	struct rw_ws_conn *wc = rw__ws_conn(ws, id, &c);
	if (!c)
		return -RW_EINVALID_CONNID;
	if (!wc || wc->phase != WS_OPEN || (c->flags & RW_C_CLOSING))
		return -RW_EWS_SEND;
	if (wc->tx_open)
		return -RW_EBAD_STATE; /* a message is still open (MessageLength, WOULDBLOCK) */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return rw__errno(errno);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : errno ? errno : EINVAL;
		close(fd);
		return rw__errno(e);
	}
	uint8_t *buf = malloc(FILE_PIECE);
	if (!buf) {
		close(fd);
		return -RW_ENOMEM;
	}
	if (st.st_size == 0) {
		uint8_t h[2] = {0x82, 0};
		int rc = rw__ws_out(c, h, 2);
		free(buf);
		close(fd);
		return rc;
	}
	wc->tx_open = true;
	wc->tx_left = (uint64_t)st.st_size;
	wc->tx_opcode = RW_WS_OP_BINARY;
	c->flags &= ~RW_C_INTERRUPT;
	c->bytes_sent = 0;
	int64_t since = rw__now_ms();
	size_t have = 0, off = 0;
	int rc = 0;
	while (wc->tx_open) {
		if (off == have) {
			ssize_t n = pread(fd, buf, FILE_PIECE, (off_t)(st.st_size - (off_t)wc->tx_left));
			if (n <= 0) {
				rc = n < 0 ? rw__errno(errno) : -RW_EBAD_STATE; /* the file shrank */
				break;
			}
			if ((uint64_t)n > wc->tx_left)
				n = (ssize_t)wc->tx_left;
			have = (size_t)n;
			off = 0;
		}
		size_t took = push_piece(wc, c, buf + off, have - off, &rc);
		off += took;
		if (rc < 0 || !wc->tx_open)
			break;
		if (took)
			since = rw__now_ms();
		/* Wait a turn for the queue to drain. */
		if (c->flags & RW_C_INTERRUPT) {
			rc = -RW_EINTERRUPTED;
			break;
		}
		int secs = c->timeout > 0 ? c->timeout : FILE_IDLE_S;
		int64_t left = since + (int64_t)secs * 1000 - rw__now_ms();
		if (left <= 0) {
			rc = -RW_ETIMEDOUT;
			break;
		}
		rw__blocking_wait(ws->tcp, left < 100 ? (int)left : 100);
		wc = rw__ws_conn(ws, id, &c);
		if (!wc || wc->phase != WS_OPEN || (c->flags & RW_C_CLOSING)) {
			rc = -RW_EWS_SEND;
			wc = NULL;
			break;
		}
	}
	if (wc && wc->tx_open) {
		/* Stopped early: end the message with an empty final frame. */
		uint8_t h[2] = {0x80, 0};
		rw__ws_out(c, h, 2);
		wc->tx_open = false;
		c->flags &= ~RW_C_INTERRUPT;
	}
	free(buf);
	close(fd);
	return rc;
}
