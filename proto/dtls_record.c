/* proto/dtls_record.c: DTLS record peek, ClientHello parse, HelloVerifyRequest
 * and alert writers. Every read is bounds-checked against the length given;
 * nothing is allocated. */
#include "dtls_record.h"

#include <string.h>

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }

int rw_dtls_record_peek(const uint8_t *p, size_t len, rw_dtls_record *out)
{
	if (!p || len < RW_DTLS_RECORD_HDR)
		return -1;
	out->type = p[0];
	out->version = (uint16_t)be16(p + 1);
	out->epoch = (uint16_t)be16(p + 3);
	memcpy(out->seq_raw, p + 5, 6);
	out->seq = 0;
	for (int i = 0; i < 6; i++)
		out->seq = out->seq << 8 | p[5 + i];
	out->length = (uint16_t)be16(p + 11);
	if ((size_t)out->length > len - RW_DTLS_RECORD_HDR)
		return -1;
	return 0;
}

bool rw_dtls_records_well_formed(const uint8_t *p, size_t len)
{
	if (!p || !len)
		return false;
	if ((p[0] & 0xe0) == 0x20)
		return true;
	size_t off = 0;
	while (off < len) {
		rw_dtls_record r;
		if (rw_dtls_record_peek(p + off, len - off, &r) < 0 || r.type < RW_DTLS_CT_CCS ||
		    r.type > RW_DTLS_CT_ACK || (r.version >> 8) != 0xfe)
			return false;
		off += RW_DTLS_RECORD_HDR + r.length;
	}
	return true;
}

int rw_dtls_parse_client_hello(const uint8_t *p, size_t len, rw_dtls_client_hello *ch)
{
	memset(ch, 0, sizeof(*ch));
	/* Not a handshake record of epoch 0 with a DTLS version: not a ClientHello. */
	if (!p || len < RW_DTLS_RECORD_HDR || p[0] != RW_DTLS_CT_HANDSHAKE || p[1] != 0xfe)
		return -1;
	if (rw_dtls_record_peek(p, len, &ch->rec) < 0)
		return -2;
	if (ch->rec.epoch != 0)
		return -1;
	const uint8_t *h = p + RW_DTLS_RECORD_HDR;
	size_t hl = ch->rec.length;
	if (hl < RW_DTLS_HS_HDR)
		return -2;
	if (h[0] != RW_DTLS_HS_CLIENT_HELLO)
		return -1;
	uint32_t body_len = be24(h + 1), frag_off = be24(h + 6), frag_len = be24(h + 9);
	ch->message_seq = (uint16_t)be16(h + 4);
	/* A fragmented ClientHello cannot be checked without reassembly state. */
	if (frag_off != 0 || frag_len != body_len || frag_len > hl - RW_DTLS_HS_HDR)
		return -2;
	const uint8_t *b = h + RW_DTLS_HS_HDR, *end = b + frag_len;
	/* client_version(2) random(32) session_id<0..32> */
	if (end - b < 2 + 32 + 1)
		return -2;
	ch->version_bytes = b;
	ch->client_version = (uint16_t)be16(b);
	ch->random = b + 2;
	b += 34;
	ch->session_id_len = *b++;
	if (ch->session_id_len > 32 || end - b < ch->session_id_len + 1)
		return -2;
	ch->session_id = b;
	b += ch->session_id_len;
	ch->cookie_len = *b++;
	if (end - b < ch->cookie_len + 2)
		return -2;
	ch->cookie = b;
	b += ch->cookie_len;
	ch->suites_len = (uint16_t)be16(b);
	b += 2;
	if (ch->suites_len < 2 || (ch->suites_len & 1) || end - b < ch->suites_len + 1)
		return -2;
	ch->suites = b;
	b += ch->suites_len;
	ch->compression_len = *b++;
	if (ch->compression_len < 1 || end - b < ch->compression_len)
		return -2;
	ch->compression = b;
	b += ch->compression_len;
	/* extensions<0..2^16-1>, optional; when present it must fit exactly. */
	if (b != end) {
		if (end - b < 2 || (size_t)(end - b) != 2 + be16(b))
			return -2;
		ch->extensions = b + 2;
		ch->extensions_len = (uint16_t)be16(b);
	}
	return 0;
}

bool rw_dtls_ch_offers_version(const rw_dtls_client_hello *ch, uint16_t version)
{
	const uint8_t *e = ch->extensions, *end = e ? e + ch->extensions_len : NULL;
	while (e && end - e >= 4) {
		uint32_t type = be16(e), len = be16(e + 2);
		if ((size_t)(end - e - 4) < len)
			return false;
		if (type == 43) { /* supported_versions: versions<2..254> */
			const uint8_t *v = e + 4;
			if (len < 1 || v[0] + 1u > len || (v[0] & 1))
				return false;
			for (uint32_t i = 0; i < v[0]; i += 2)
				if (be16(v + 1 + i) == version)
					return true;
			return false;
		}
		e += 4 + len;
	}
	return false;
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put24(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 16); put16(p + 1, v); }

size_t rw_dtls_write_hvr(uint8_t *out, size_t cap, const rw_dtls_client_hello *ch,
                         const uint8_t *cookie, size_t cookie_len)
{
	size_t n = rw_dtls_hvr_len(cookie_len);
	if (cookie_len > RW_DTLS_COOKIE_MAX || cap < n)
		return 0;
	uint32_t body = 3 + (uint32_t)cookie_len;
	out[0] = RW_DTLS_CT_HANDSHAKE;
	put16(out + 1, 0xfeff);
	put16(out + 3, 0);
	memcpy(out + 5, ch->rec.seq_raw, 6);
	put16(out + 11, RW_DTLS_HS_HDR + body);
	uint8_t *h = out + RW_DTLS_RECORD_HDR;
	h[0] = RW_DTLS_HS_HELLO_VERIFY_REQUEST;
	put24(h + 1, body);
	put16(h + 4, 0);  /* message_seq: the server's first message */
	put24(h + 6, 0);
	put24(h + 9, body);
	uint8_t *b = h + RW_DTLS_HS_HDR;
	put16(b, 0xfeff);
	b[2] = (uint8_t)cookie_len;
	memcpy(b + 3, cookie, cookie_len);
	return n;
}

size_t rw_dtls_write_alert(uint8_t *out, size_t cap, const rw_dtls_record *rec, uint8_t description)
{
	if (cap < RW_DTLS_RECORD_HDR + 2)
		return 0;
	out[0] = RW_DTLS_CT_ALERT;
	put16(out + 1, rec->version ? rec->version : 0xfefd);
	put16(out + 3, 0);
	memcpy(out + 5, rec->seq_raw, 6);
	put16(out + 11, 2);
	out[13] = 2; /* fatal */
	out[14] = description;
	return RW_DTLS_RECORD_HDR + 2;
}
