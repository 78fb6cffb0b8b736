/* tests/ws/test_ws_echo_demo.c: the demo server (tools/ringworks-echo) with
 * --ws next to --tcp on one shared loop: a python websockets client gets
 * every message back with its type, the first offered subprotocol selected,
 * compression negotiated; a plain TCP client is echoed meanwhile; SIGTERM
 * ends the program cleanly (exit 0). */
#include "wstest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Wait for "listening KIND PORT" lines in the child's output. */
static int port_of(rwt_proc *p, const char *kind)
{
	char key[32];
	snprintf(key, sizeof(key), "listening %s ", kind);
	double t0 = rwt_now_ms();
	while (rwt_now_ms() - t0 < 5000) {
		rwt_proc_done(p);
		const char *at = p->out ? strstr(p->out, key) : NULL;
		if (at && strchr(at, '\n'))
			return atoi(at + strlen(key));
		usleep(10000);
	}
	return -1;
}

static bool py_done(void *p)
{
	return rwt_proc_done(p);
}

Test(ws_demo, echo_ws_and_tcp_on_one_loop, .timeout = 60)
{
	cr_assert(wst_have_python_websockets(), "python3-websockets is missing");
	const char *echo = getenv("RW_ECHO");
	cr_assert(echo && *echo, "RW_ECHO (the ringworks-echo path) is not set");
	char *argv[] = {(char *)echo, "--ws", "0", "--tcp", "0", NULL};
	rwt_proc srv = {0};
	cr_assert_eq(rwt_proc_spawn(&srv, argv, false), 0);
	int wport = port_of(&srv, "ws"), tport = port_of(&srv, "tcp");
	cr_assert(wport > 0 && tport > 0, "output: %s", srv.out ? srv.out : "");
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", wport);
	char *cli[] = {"/usr/bin/python3", "-c",
		"import asyncio, os, sys, websockets\n"
		"async def main():\n"
		"    async with websockets.connect(f'ws://127.0.0.1:{sys.argv[1]}/any/path', subprotocols=['p1', 'p2'],\n"
		"                                  max_size=None) as ws:\n"
		"        print('proto', ws.subprotocol, 'ext', ws.response_headers.get('Sec-WebSocket-Extensions'))\n"
		"        for m in ['text \\u2713', os.urandom(5000), 'y' * 3000000, b'']:\n"
		"            await ws.send(m); r = await ws.recv()\n"
		"            assert r == m and type(r) == type(m), (type(r), len(r))\n"
		"    print('ok')\n"
		"asyncio.run(main())\n",
		ps, NULL};
	rwt_proc p = {0};
	cr_assert_eq(rwt_proc_spawn(&p, cli, false), 0);
	/* Meanwhile a TCP client on the same loop. */
	int fd = rwt_connect("127.0.0.1", tport, 5000);
	cr_assert_geq(fd, 0);
	char back[6] = "";
	cr_assert_eq(rwt_exchange(fd, "hello!", 6, back, 6, 5000), 0);
	cr_assert_eq(memcmp(back, "hello!", 6), 0);
	close(fd);
	double t0 = rwt_now_ms();
	while (!py_done(&p) && rwt_now_ms() - t0 < 30000)
		usleep(10000);
	cr_assert(p.exited, "python client did not finish: %s", p.out ? p.out : "");
	cr_assert_eq(p.exit_code, 0, "%s", p.out);
	cr_assert(strstr(p.out, "proto p1 ext permessage-deflate"), "%s", p.out);
	cr_assert(strstr(p.out, "ok"), "%s", p.out);
	rwt_proc_free(&p);
	kill(srv.pid, SIGTERM);
	t0 = rwt_now_ms();
	while (!rwt_proc_done(&srv) && rwt_now_ms() - t0 < 10000)
		usleep(10000);
	cr_assert(srv.exited, "the demo did not exit on SIGTERM");
	cr_assert_eq(srv.exit_code, 0, "%s", srv.out);
	rwt_proc_free(&srv);
}
