/* proto/ws_frame.h: RFC 6455 §5 frames, server side.
 *
 * The parser is incremental (any split of the input gives the same result),
 * unmasks payload bytes in place and hands them out as they arrive (zero copy:
 * a data frame's payload is never buffered here), and enforces the rules a
 * server must: client frames masked, no reserved opcodes, RSV bits only as a
 * negotiated extension allows (RSV1 = permessage-deflate, first frame only),
 * control frames at most 125 bytes and never fragmented, continuation frames
 * only inside a message, close codes and close reasons valid, a message limit.
 * Control frames (at most 125 bytes) are collected and delivered whole, also
 * between the fragments of a message.
 *
 * Any violation stops the parser for good with `error` set to the close code
 * to send (1002 protocol error, 1007 bad close reason, 1009 too big) and
 * `error_text` saying why. UTF-8 of text messages is the caller's job (it may
 * have to inflate first); proto/utf8.h does it.
 */
#ifndef RW_PROTO_WS_FRAME_H
#define RW_PROTO_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	RW_WS_OP_CONT = 0x0,
	RW_WS_OP_TEXT = 0x1,
	RW_WS_OP_BINARY = 0x2,
	RW_WS_OP_CLOSE = 0x8,
	RW_WS_OP_PING = 0x9,
	RW_WS_OP_PONG = 0xA
};

/* Close codes used by the server itself. */
enum {
	RW_WS_CLOSE_NORMAL = 1000,
	RW_WS_CLOSE_GOING_AWAY = 1001,
	RW_WS_CLOSE_PROTOCOL = 1002,
	RW_WS_CLOSE_NO_STATUS = 1005,   /* never on the wire */
	RW_WS_CLOSE_ABNORMAL = 1006,    /* never on the wire */
	RW_WS_CLOSE_BAD_DATA = 1007,
	RW_WS_CLOSE_TOO_BIG = 1009,
	RW_WS_CLOSE_INTERNAL = 1011
};

#define RW_WS_MAX_HEADER 14 /* 2 + 8 length + 4 mask */
#define RW_WS_MAX_CONTROL 125

typedef struct rw_ws_parser rw_ws_parser;

/* Callbacks. Return 0 to go on, non-zero to stop the feed right after this
 * call (rw_ws_parse then returns the bytes consumed so far). */
typedef struct {
	/* Payload bytes of a text/binary/continuation frame, unmasked. `p` is the
	 * parser's message state (msg_opcode, msg_compressed, fin); frame_end is
	 * true on the call that completes the frame's payload (an empty frame
	 * gives one call with n = 0 and frame_end = true). */
	int (*data)(void *ctx, const rw_ws_parser *p, const uint8_t *d, size_t n, bool frame_end);
	/* A whole control frame. For a close frame the payload was validated:
	 * empty, or a valid code (rw_ws_close_code_valid) and a UTF-8 reason. */
	int (*control)(void *ctx, int opcode, const uint8_t *d, size_t n);
} rw_ws_parser_cbs;

struct rw_ws_parser {
	/* Settings (may change between feeds). */
	bool allow_rsv1;      /* permessage-deflate negotiated */
	bool require_mask;    /* true for a server (the default after init) */
	uint64_t max_message; /* wire bytes per message; 0 = unlimited */
	/* Message state, readable by callbacks. */
	uint8_t msg_opcode;   /* 1 or 2 while a message is open, else 0 */
	bool msg_compressed;  /* RSV1 on its first frame */
	bool fin;             /* the current frame is the message's last */
	uint64_t msg_len;     /* wire payload bytes of the open message so far */
	/* Result of a failure. */
	int error;            /* 0, or the close code to send */
	const char *error_text;
	/* Private. */
	uint8_t _hdr[RW_WS_MAX_HEADER];
	uint8_t _hdr_len, _opcode;
	bool _masked, _in_payload;
	uint8_t _mask[4];
	uint32_t _mask_pos;
	uint64_t _left;       /* payload bytes of the current frame still to come */
	uint8_t _ctrl[RW_WS_MAX_CONTROL];
	uint8_t _ctrl_len;
};

void rw_ws_parser_init(rw_ws_parser *p);

/* Parse up to n bytes (unmasked in place). Returns the bytes consumed (n, or
 * fewer when a callback asked to stop), or -1 on a protocol violation
 * (p->error, p->error_text; the parser then refuses all input). */
ssize_t rw_ws_parse(rw_ws_parser *p, uint8_t *data, size_t n, const rw_ws_parser_cbs *cbs, void *ctx);

/* Whether a received close code is acceptable: 1000-1003, 1007-1011 and
 * 3000-4999. 1004-1006, 1012-2999 (not assigned to endpoints) and the rest are
 * not, and a close frame carrying one is a protocol error. */
bool rw_ws_close_code_valid(int code);

/* Whether a server may send this code (DisconnectStatusCode): 1000-1003,
 * 1007-1014 and 3000-4999. */
bool rw_ws_close_code_sendable(int code);

/* Write a server frame header (never masked) into out (RW_WS_MAX_HEADER
 * bytes); returns its length (2, 4 or 10). */
size_t rw_ws_frame_header(uint8_t *out, int opcode, bool fin, bool rsv1, uint64_t len);

/* XOR-unmask n bytes in place with the 4-byte key, starting at key offset
 * pos (0-3); returns the next offset. */
uint32_t rw_ws_unmask(uint8_t *d, size_t n, const uint8_t mask[4], uint32_t pos);

#endif
