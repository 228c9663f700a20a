#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <event2/event.h>

#include "proxy/tunnel.h"

#define BULK (4u << 20)

struct run {
	struct event_base *base;
	struct tunnel *t;
	int done;
};

static void on_done(void *arg)
{
	((struct run *)arg)->done++;
}

/* [0]: the test's end, [1]: the tunnel's; both non-blocking */
static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* The tunnel freed (its sockets with it), the test's ends closed. */
static void finish_run(struct run *r, int a_end, int b_end)
{
	tunnel_free(r->t);
	close(a_end);
	close(b_end);
	event_base_free(r->base);
}

/* A tunnel between two new pairs, nothing left over, an idle limit of 1 s. */
static void start_quiet(struct run *r, int a[2], int b[2])
{
	pair(a);
	pair(b);
	r->t = tunnel_start(r->base, a[1], b[1], NULL, 0, NULL, 0, 1, on_done, r);
	assert_non_null(r->t);
}

static uint8_t byte_at(size_t i)
{
	return (uint8_t)(i * 7 + i / 4096);
}

/* The leftovers first, then 4 MiB from a to b while b answers: every byte
 * in order, each side's count, and the end once a closes. */
static void test_bulk_both_ways(void **state)
{
	struct run r = { .base = event_base_new() };
	uint8_t *buf = malloc(65536);
	size_t sent = 0, got = 0, got_a = 0;
	int a[2], b[2];
	char head[16];

	(void)state;
	assert_non_null(r.base);
	assert_non_null(buf);
	pair(a);
	pair(b);
	r.t = tunnel_start(r.base, a[1], b[1], "to-b:", 5, "to-a:", 5, 30, on_done, &r);
	assert_non_null(r.t);
	assert_int_equal(write(b[0], "reply", 5), 5);
	while (got < 5 + BULK || got_a < 10) {
		ssize_t n;

		while (sent < BULK) {
			size_t k = BULK - sent < 65536 ? BULK - sent : 65536;

			for (size_t i = 0; i < k; i++)
				buf[i] = byte_at(sent + i);
			n = write(a[0], buf, k);
			if (n <= 0)
				break;
			sent += (size_t)n;
		}
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		while ((n = read(b[0], buf, 65536)) > 0) {
			for (ssize_t i = 0; i < n; i++, got++) {
				if (got < 5)
					assert_int_equal(buf[i], (uint8_t)"to-b:"[got]);
				else if (buf[i] != byte_at(got - 5))
					fail_msg("byte %zu of the bulk is wrong", got - 5);
			}
		}
		n = read(a[0], head + got_a, sizeof(head) - got_a);
		if (n > 0)
			got_a += (size_t)n;
	}
	assert_memory_equal(head, "to-a:reply", 10);
	assert_int_equal(r.done, 0);
	shutdown(a[0], SHUT_WR);
	for (int i = 0; i < 1000 && !r.done; i++)
		event_base_loop(r.base, EVLOOP_ONCE);
	assert_int_equal(r.done, 1);
	assert_int_equal(tunnel_error(r.t), 0);
	assert_int_equal(tunnel_bytes_from_a(r.t), BULK);
	assert_int_equal(tunnel_bytes_from_b(r.t), 5);
	tunnel_free(r.t);
	/* the tunnel closed its sockets: the test's ends see the end */
	assert_int_equal(read(b[0], buf, 1), 0);
	close(a[0]);
	close(b[0]);
	free(buf);
	event_base_free(r.base);
}

/* A side that says nothing for the idle limit ends it. */
static void test_idle_ends(void **state)
{
	struct run r = { .base = event_base_new() };
	int a[2], b[2];

	(void)state;
	start_quiet(&r, a, b);
	for (int i = 0; i < 100 && !r.done; i++)
		event_base_loop(r.base, EVLOOP_ONCE);
	assert_int_equal(r.done, 1);
	assert_int_equal(tunnel_bytes_from_a(r.t), 0);
	finish_run(&r, a[0], b[0]);
}

/* A side that takes nothing while it keeps talking ends it too: what waits
 * for it is idle, whatever comes the other way. */
static void test_stalled_reader_ends(void **state)
{
	struct run r = { .base = event_base_new() };
	static char buf[65536];
	struct timespec t0, t;
	double last = -1, now = 0;
	int a[2], b[2];

	(void)state;
	start_quiet(&r, a, b);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!r.done && now < 5) {
		while (write(a[0], buf, sizeof(buf)) > 0)
			;
		while (read(a[0], buf, sizeof(buf)) > 0)
			;
		if (now - last >= 0.3) { /* b talks and never reads */
			assert_int_equal(write(b[0], "x", 1), 1);
			last = now;
		}
		event_base_loop(r.base, EVLOOP_NONBLOCK);
		usleep(10000);
		clock_gettime(CLOCK_MONOTONIC, &t);
		now = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
	}
	assert_int_equal(r.done, 1);
	assert_true(tunnel_bytes_from_a(r.t) > 0);
	finish_run(&r, a[0], b[0]);
}

/* More left over than a pipe holds: refused, the sockets still the caller's. */
static void test_leftover_too_big(void **state)
{
	struct run r = { .base = event_base_new() };
	size_t big = 64u << 20;
	char *left = calloc(1, big);
	int a[2], b[2];

	(void)state;
	assert_non_null(left);
	pair(a);
	pair(b);
	errno = 0;
	assert_null(tunnel_start(r.base, a[1], b[1], left, big, NULL, 0, 30, on_done, &r));
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(fcntl(a[1], F_GETFD), FD_CLOEXEC);
	assert_int_equal(fcntl(b[1], F_GETFD), FD_CLOEXEC);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
	free(left);
	event_base_free(r.base);
}

/* What came before leaves at the start, not at the loop's next turn: a
 * CONNECT's ClientHello reaches the origin without waiting for an edge. */
static void test_leftovers_sent_at_start(void **state)
{
	struct run r = { .base = event_base_new() };
	char got[16];
	int a[2], b[2];

	(void)state;
	pair(a);
	pair(b);
	r.t = tunnel_start(r.base, a[1], b[1], "hello", 5, "200", 3, 30, on_done, &r);
	assert_non_null(r.t);
	assert_int_equal(read(b[0], got, sizeof(got)), 5);
	assert_memory_equal(got, "hello", 5);
	assert_int_equal(read(a[0], got, sizeof(got)), 3);
	assert_memory_equal(got, "200", 3);
	finish_run(&r, a[0], b[0]);
}

/* A tunnel freed with bytes still in its pipes (a side that took none):
 * the next tunnels, whose pipes may be those of ended ones, carry what
 * their own sides say and none of those bytes, either way. */
static void test_no_bytes_across_tunnels(void **state)
{
	static char fill[65536];
	struct run r = { .base = event_base_new() };
	int a[2], b[2];
	char got[64];

	(void)state;
	pair(a);
	pair(b);
	/* b's peer takes nothing: what a says stays in the tunnel's pipe */
	while (write(b[1], fill, sizeof(fill)) > 0)
		;
	r.t = tunnel_start(r.base, a[1], b[1], "SECRET-TO-B", 11, NULL, 0, 30, on_done, &r);
	assert_non_null(r.t);
	assert_int_equal(write(a[0], "MORE-SECRET", 11), 11);
	for (int i = 0; i < 10; i++)
		event_base_loop(r.base, EVLOOP_NONBLOCK);
	tunnel_free(r.t);
	close(a[0]);
	close(b[0]);
	for (int k = 0; k < 4; k++) {
		pair(a);
		pair(b);
		r.t = tunnel_start(r.base, a[1], b[1], NULL, 0, NULL, 0, 30, on_done, &r);
		assert_non_null(r.t);
		assert_int_equal(write(a[0], "x", 1), 1);
		assert_int_equal(write(b[0], "y", 1), 1);
		for (int i = 0; i < 10; i++)
			event_base_loop(r.base, EVLOOP_NONBLOCK);
		assert_int_equal(read(b[0], got, sizeof(got)), 1);
		assert_int_equal(got[0], 'x');
		assert_int_equal(read(a[0], got, sizeof(got)), 1);
		assert_int_equal(got[0], 'y');
		tunnel_free(r.t);
		close(a[0]);
		close(b[0]);
	}
	assert_int_equal(r.done, 0);
	event_base_free(r.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulk_both_ways),
		cmocka_unit_test(test_idle_ends),
		cmocka_unit_test(test_stalled_reader_ends),
		cmocka_unit_test(test_leftover_too_big),
		cmocka_unit_test(test_leftovers_sent_at_start),
		cmocka_unit_test(test_no_bytes_across_tunnels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
