/* ringworks/workers.h: Config Workers=N, one server object on N threads
 * (included by tcpserver.h). The threading contract of TCPServer and WSServer.
 *
 * Workers=1 (the default): the object and its loop belong to the thread that
 * drives them; events fire inside do_events (or a blocking send) on that
 * thread. Not thread-safe: call every function from that thread.
 *
 * Workers=N (2..RW_WORKERS_MAX), set with rw_tcpserver_config(s, "Workers=N")
 * (or rw_wsserver_config) before the first start_listening; fixed after it
 * (-RW_EBAD_STATE for another value), and -RW_EBAD_STATE for a server made
 * with _new_on_loop (its loop is one thread's). At start_listening the object
 * starts N
 * worker threads, each with its own io_uring, receive buffers and fixed-file
 * table, each listening on the same LocalHost:LocalPort with SO_REUSEPORT
 * (the kernel spreads new connections over them; LocalPort 0 picks one port
 * for all). Then:
 *  - A connection lives on one worker for its whole life. Its events fire on
 *    that worker's thread, never on the caller's, and never two at once for
 *    one connection (events of different connections on different workers do
 *    run at the same time: handlers that share data must lock it). The
 *    server argument of every event is the object itself.
 *  - Every function may be called from any thread, also from inside events,
 *    also on connections of other workers: a call on a connection locks its
 *    worker for the duration of the call (a handler calling into another
 *    worker lets go of its own meanwhile, so workers calling each other do
 *    not deadlock). Sends from one thread to one connection arrive in the
 *    order of the calls. A call made while the worker runs an event waits for
 *    that event's handler to return.
 *  - A blocking send (Timeout > 0) from a thread that is not the connection's
 *    worker waits for the worker to move the bytes (polling every 2 ms); no
 *    events fire on the calling thread. Inside an event of the same worker it
 *    turns that worker's loop as with Workers=1 (other threads' calls to that
 *    worker wait meanwhile).
 *  - Server-wide methods act on every worker: start_listening, stop_listening,
 *    shutdown, drain (the connections left, summed), reset, free (joins every
 *    thread; must not race with other calls on the object, and not be called
 *    from inside an event). ConnectionCount and get_connection_ids cover all
 *    workers (ids grouped by worker). MaxConnections limits the whole object
 *    (checked at accept against the object's count, so simultaneous accepts
 *    on several workers may pass it by at most N - 1); RejectedConnectionCount
 *    sums the workers.
 *  - Settings: the object keeps them and each worker takes a copy at every
 *    start_listening. A Config setting set once the workers exist (after the
 *    first start_listening) is also applied to every worker at once; the
 *    property setters (DefaultIdleTimeout, DefaultEOL, ...) called while
 *    listening apply from the next start_listening. Config sets are
 *    serialized; the property setters and start_listening are not (call them
 *    from one thread at a time). Set the events before start_listening.
 *    Config loop settings (RingEntries, RecvBufferSize, RecvBufferCount) are
 *    per worker.
 *  - do_events has nothing to run on the caller's thread: it waits up to
 *    DoEventsTimeout (returning early once the server has stopped and has no
 *    connection) and returns 0; run() waits until the server has stopped
 *    listening and every connection has closed. get_loop returns NULL.
 *  - Capacity: each worker's fixed-file table holds up to RLIMIT_NOFILE
 *    connections and an accepted socket holds no file descriptor once
 *    installed, so N workers hold up to N x RLIMIT_NOFILE connections (with
 *    RLIMIT_NOFILE 20,000: 6 workers for 100,000; set MaxConnections, the
 *    backlog and net.core.somaxconn to match).
 *  - Log and Error events about the server (connection id 0) come from the
 *    worker that met them. With TLS each worker loads the certificate into its
 *    own context: session tickets are per worker, so a client that reconnects
 *    to another worker makes a full handshake.
 * DTLSServer: Workers above 1 is -RW_ENOT_SUPPORTED (dtlsserver.h).
 */
#ifndef RINGWORKS_WORKERS_H
#define RINGWORKS_WORKERS_H

/* The largest Workers value. */
#define RW_WORKERS_MAX 64

#endif
