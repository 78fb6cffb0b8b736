/* proto/proxy_proto.c: PROXY protocol v1/v2 header parser (see proxy_proto.h).
 * A byte at a time up to the end of the fixed part (107 bytes at most), the
 * v2 TLVs skipped in bulk. */
#include "proto/proxy_proto.h"

#include <arpa/inet.h>
#include <string.h>

enum { ST_START, ST_V1, ST_V2_HEAD, ST_V2_ADDR, ST_V2_TLV, ST_DONE, ST_BAD };

static const uint8_t v2_sig[RW_PROXY_V2_SIG_LEN] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                     0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_sig[] = "PROXY ";
#define V1_SIG_LEN 6
#define V2_HEAD_LEN 16

void rw_proxy_init(rw_proxy_parser *p, unsigned accept)
{
	memset(p, 0, sizeof(*p));
	p->accept = (uint8_t)accept;
	p->state = ST_START;
}

static int bad(rw_proxy_parser *p)
{
	p->state = ST_BAD;
	return RW_PROXY_BAD;
}

/* A decimal port, 1 to 5 digits, no sign, at most 65535. */
static bool parse_port(const char *s, size_t n, uint16_t *out)
{
	if (n == 0 || n > 5)
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static bool parse_addr(int family, const char *s, size_t n, uint8_t out[16])
{
	char tmp[48];
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	return inet_pton(family == 4 ? AF_INET : AF_INET6, tmp, out) == 1;
}

/* The whole v1 line is in buf, "\r\n" included. */
static int parse_v1(rw_proxy_parser *p)
{
	const char *line = (const char *)p->buf + V1_SIG_LEN;
	size_t n = p->have - V1_SIG_LEN - 2; /* without "\r\n" */
	rw_proxy_hdr *h = &p->hdr;
	h->version = 1;
	if (n >= 7 && memcmp(line, "UNKNOWN", 7) == 0 && (n == 7 || line[7] == ' ')) {
		h->local = true; /* whatever follows UNKNOWN is ignored */
		return RW_PROXY_DONE;
	}
	if (n < 5 || memcmp(line, "TCP", 3) != 0 || (line[3] != '4' && line[3] != '6') || line[4] != ' ')
		return RW_PROXY_BAD;
	h->family = line[3] == '4' ? 4 : 6;
	/* four fields, one space apart: src dst sport dport */
	const char *f[4];
	size_t fl[4];
	size_t i = 5;
	for (int k = 0; k < 4; k++) {
		size_t start = i;
		while (i < n && line[i] != ' ')
			i++;
		f[k] = line + start;
		fl[k] = i - start;
		if (k < 3) {
			if (i >= n)
				return RW_PROXY_BAD;
			i++; /* the space */
		}
	}
	if (i != n)
		return RW_PROXY_BAD;
	if (!parse_addr(h->family, f[0], fl[0], h->src) || !parse_addr(h->family, f[1], fl[1], h->dst) ||
	    !parse_port(f[2], fl[2], &h->src_port) || !parse_port(f[3], fl[3], &h->dst_port))
		return RW_PROXY_BAD;
	return RW_PROXY_DONE;
}

/* The 16-byte v2 head is in buf: check it and size the rest. */
static int v2_head(rw_proxy_parser *p)
{
	rw_proxy_hdr *h = &p->hdr;
	uint8_t ver_cmd = p->buf[12], fam = p->buf[13];
	uint16_t len = (uint16_t)(p->buf[14] << 8 | p->buf[15]);
	h->version = 2;
	if ((ver_cmd >> 4) != 2 || (ver_cmd & 0x0F) > 1)
		return RW_PROXY_BAD;
	unsigned need = 0;
	if ((ver_cmd & 0x0F) == 0) {
		h->local = true; /* LOCAL: health checks; the family byte is ignored */
	} else if (fam == 0x00) {
		h->local = true; /* UNSPEC */
	} else if (fam == 0x11) {
		h->family = 4;
		need = 12;
	} else if (fam == 0x21) {
		h->family = 6;
		need = 36;
	} else {
		return RW_PROXY_BAD; /* UDP, UNIX sockets: not for a TCP server */
	}
	if (len < need)
		return RW_PROXY_BAD;
	h->tlv_len = (uint16_t)(len - need);
	p->left = len;
	p->state = need ? ST_V2_ADDR : ST_V2_TLV;
	return RW_PROXY_MORE;
}

static void v2_addresses(rw_proxy_parser *p)
{
	rw_proxy_hdr *h = &p->hdr;
	const uint8_t *a = p->buf + V2_HEAD_LEN;
	unsigned al = h->family == 4 ? 4 : 16;
	memcpy(h->src, a, al);
	memcpy(h->dst, a + al, al);
	h->src_port = (uint16_t)(a[2 * al] << 8 | a[2 * al + 1]);
	h->dst_port = (uint16_t)(a[2 * al + 2] << 8 | a[2 * al + 3]);
}

int rw_proxy_feed(rw_proxy_parser *p, const uint8_t *data, size_t len, size_t *consumed)
{
	size_t i = 0;
	int rc = RW_PROXY_MORE;
	while (rc == RW_PROXY_MORE) {
		if (p->state == ST_DONE) {
			rc = RW_PROXY_DONE;
			break;
		}
		if (p->state == ST_BAD) {
			rc = RW_PROXY_BAD;
			break;
		}
		if (p->state == ST_V2_TLV) {
			size_t take = len - i < p->left ? len - i : p->left;
			i += take;
			p->left -= (uint32_t)take;
			if (p->left == 0)
				p->state = ST_DONE;
			else
				break;
			continue;
		}
		if (i == len)
			break;
		uint8_t b = data[i++];
		switch (p->state) {
		case ST_START:
			if (b == 'P' && (p->accept & RW_PROXY_ACCEPT_V1))
				p->state = ST_V1;
			else if (b == v2_sig[0] && (p->accept & RW_PROXY_ACCEPT_V2))
				p->state = ST_V2_HEAD;
			else
				rc = bad(p);
			p->buf[p->have++] = b;
			break;
		case ST_V1:
			if (p->have < V1_SIG_LEN && b != (uint8_t)v1_sig[p->have]) {
				rc = bad(p);
				break;
			}
			/* printable ASCII until CR, then LF */
			if (p->have && p->buf[p->have - 1] == '\r' && b != '\n') {
				rc = bad(p);
				break;
			}
			if (b != '\r' && b != '\n' && (b < 0x20 || b > 0x7E)) {
				rc = bad(p);
				break;
			}
			if (b == '\n' && p->buf[p->have - 1] != '\r') {
				rc = bad(p);
				break;
			}
			p->buf[p->have++] = b;
			if (b == '\n') {
				rc = parse_v1(p);
				p->state = rc == RW_PROXY_DONE ? ST_DONE : ST_BAD;
			} else if (p->have >= RW_PROXY_V1_MAX) {
				rc = bad(p); /* 107 bytes and no line end */
			}
			break;
		case ST_V2_HEAD:
			if (p->have < RW_PROXY_V2_SIG_LEN && b != v2_sig[p->have]) {
				rc = bad(p);
				break;
			}
			p->buf[p->have++] = b;
			if (p->have == V2_HEAD_LEN) {
				rc = v2_head(p);
				if (rc == RW_PROXY_BAD)
					p->state = ST_BAD;
			}
			break;
		case ST_V2_ADDR:
			p->buf[p->have++] = b;
			p->left--;
			if (p->left == p->hdr.tlv_len) {
				v2_addresses(p);
				p->state = ST_V2_TLV;
			}
			break;
		}
	}
	if (consumed)
		*consumed = i;
	return rc;
}
