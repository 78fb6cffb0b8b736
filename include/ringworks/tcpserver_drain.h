/* ringworks/tcpserver_drain.h: graceful drain of a TCPServer (included by
 * tcpserver.h). */
#ifndef RINGWORKS_TCPSERVER_DRAIN_H
#define RINGWORKS_TCPSERVER_DRAIN_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rw_tcpserver rw_tcpserver;

/* Drain: stop accepting (the port is released), stop reading, and close each
 * connection once its send queue has gone out (TLS: after close_notify), but
 * no later than deadline_ms from the first call: then whatever is still in
 * the send queue is dropped and the socket closed (the kernel still sends
 * what it had already taken, then the FIN). Connections whose PROXY
 * header has not arrived are closed at once. Each exposed connection gets
 * Disconnected(0, "OK") from the next do_events, as after shutdown; its
 * socket may close later, when its queue has drained.
 * Returns the number of connections whose socket is not closed yet: call
 * do_events until it returns 0 (bounded by the deadline). Calling again never
 * extends the deadline (a shorter one applies); deadline_ms < 0 only reports
 * that number. With Linger=False the final close is a reset, as always, so
 * data still in the kernel's send buffer may be lost. May be called inside
 * events. Returns -RW_EINVAL for a NULL server. */
RW_API int rw_tcpserver_drain(rw_tcpserver *s, int deadline_ms);

#ifdef __cplusplus
}
#endif
#endif
