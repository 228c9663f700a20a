#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proxy/http1.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* what the connection sent to the origin, and the exchanges it reported */
static struct {
	char out[200000];
	size_t n;
	struct http1_exchange x[64];
	unsigned nx;
} seen;

static int to_origin(void *arg, const void *p, size_t n)
{
	assert_true(seen.n + n < sizeof(seen.out));
	memcpy(seen.out + seen.n, p, n);
	seen.n += n;
	seen.out[seen.n] = 0;
	return 0;
}

static void exchange(void *arg, const struct http1_exchange *x)
{
	assert_true(seen.nx < N(seen.x));
	seen.x[seen.nx++] = *x;
}

static const struct http1_config plain = {
	.host = "api.test", .port = 443, .emit = to_origin, .on_exchange = exchange,
};
static const struct http1_config injecting = {
	.host = "api.test", .port = 443, .inject_name = "x-api-key", .inject_value = "sk-injected-SECRET",
	.emit = to_origin, .on_exchange = exchange,
};

static struct http1 *start(const struct http1_config *cfg)
{
	struct http1 *h = http1_new(cfg);

	memset(&seen, 0, sizeof(seen));
	assert_non_null(h);
	return h;
}

static int req(struct http1 *h, const char *s)
{
	return http1_request(h, s, strlen(s));
}

static int resp(struct http1 *h, const char *s)
{
	return http1_response(h, s, strlen(s));
}

static void test_http1_head_gets_the_injected_header_and_loses_the_clients_copy(void **state)
{
	struct http1 *h = start(&injecting);

	assert_int_equal(req(h, "GET /v1/messages?beta=1 HTTP/1.1\r\nHost: api.test\r\nX-Api-Key: forged-by-agent\r\n"
				"Authorization: Bearer agent-token\r\nAccept: */*\r\n\r\n"),
			 0);
	assert_string_equal(seen.out, "GET /v1/messages?beta=1 HTTP/1.1\r\nHost: api.test\r\n"
				      "Authorization: Bearer agent-token\r\nAccept: */*\r\nx-api-key: sk-injected-SECRET\r\n\r\n");
	http1_free(h);
}

static const char *const pipelined =
	"GET /simple/requests/?q=secret HTTP/1.1\r\nHost: api.test:443\r\nCookie: session=abc\r\n\r\n"
	"POST /upload HTTP/1.1\r\nHost: API.test\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
	"HEAD /head HTTP/1.1\r\nHost: api.test\r\n\r\n";
static const char *const answers =
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nSet-Cookie: s=1\r\n\r\n{}"
	"HTTP/1.1 201 Created\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
	"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
	"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";

static void check_three(void)
{
	assert_int_equal(seen.nx, 3);
	assert_string_equal(seen.x[0].method, "GET");
	assert_string_equal(seen.x[0].path, "/simple/requests/");
	assert_int_equal(seen.x[0].status, 200);
	assert_string_equal(seen.x[0].content_type, "application/json");
	assert_int_equal(seen.x[0].resp_body, 2);
	assert_string_equal(seen.x[1].method, "POST");
	assert_string_equal(seen.x[1].path, "/upload");
	assert_int_equal(seen.x[1].req_body, 5);
	assert_int_equal(seen.x[1].status, 201);
	assert_string_equal(seen.x[1].content_type, "text/plain; charset=utf-8");
	assert_int_equal(seen.x[1].resp_body, 7);
	assert_string_equal(seen.x[2].method, "HEAD");
	assert_int_equal(seen.x[2].status, 200);
	assert_int_equal(seen.x[2].resp_body, 0);
	/* the exchanges hold no header value but the content type */
	for (unsigned i = 0; i < seen.nx; i++) {
		assert_null(memmem(&seen.x[i], sizeof(seen.x[i]), "secret", 6));
		assert_null(memmem(&seen.x[i], sizeof(seen.x[i]), "session=abc", 11));
		assert_null(memmem(&seen.x[i], sizeof(seen.x[i]), "s=1", 3));
	}
}

static void test_http1_every_exchange_of_a_keep_alive_connection_is_recorded(void **state)
{
	struct http1 *h = start(&plain);
	static char whole[sizeof(seen.out)];

	assert_int_equal(req(h, pipelined), 0);
	assert_int_equal(resp(h, answers), 0);
	check_three();
	memcpy(whole, seen.out, sizeof(whole));
	http1_free(h);

	/* the same bytes one at a time: the same exchanges, the same output */
	h = start(&plain);
	for (size_t i = 0; pipelined[i]; i++)
		assert_int_equal(http1_request(h, pipelined + i, 1), 0);
	for (size_t i = 0; answers[i]; i++)
		assert_int_equal(http1_response(h, answers + i, 1), 0);
	check_three();
	assert_string_equal(seen.out, whole);
	assert_int_equal(http1_response_end(h), 0);
	assert_int_equal(seen.nx, 3);
	http1_free(h);
}

static void test_http1_refuses_a_request_for_another_host(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: api.test.evil.test\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: api.test:8443\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: api.test:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: api.test:443x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: 127.0.1.2\r\n\r\n",
		"GET http://evil.test/ HTTP/1.1\r\nHost: api.test\r\n\r\n",
		"GET http://api.test:80/ HTTP/1.1\r\nHost: api.test\r\n\r\n",
		"GET http://evil.test/ HTTP/1.1\r\n\r\n",
		"GET http://api.test/ HTTP/1.1\r\nHost: api.test:442\r\n\r\n",
	};
	const char *first = "GET /ok HTTP/1.1\r\nHost: api.test\r\n\r\n";

	for (size_t i = 0; i < N(bad); i++) {
		struct http1 *h = start(&plain);
		char both[512];

		/* after an allowed request on the same connection: nothing of it leaves */
		snprintf(both, sizeof(both), "%s%s", first, bad[i]);
		if (req(h, both) != -EPERM)
			fail_msg("taken: %s", bad[i]);
		assert_string_equal(seen.out, first);
		assert_true(http1_why(h)[0] != 0);
		assert_int_equal(req(h, first), -EPERM); /* the connection is over */
		http1_free(h);
	}
}

static void test_http1_refuses_what_is_not_one_clear_request(void **state)
{
	static const struct {
		const char *in;
		int err;
	} bad[] = {
		{ "GET / HTTP/1.1\r\n\r\n", -EBADMSG },                                       /* no Host */
		{ "GET / HTTP/1.1\r\nHost: api.test\r\nHost: evil.test\r\n\r\n", -EBADMSG }, /* twice */
		{ "CONNECT evil.test:443 HTTP/1.1\r\nHost: api.test\r\n\r\n", -EPERM },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", -EBADMSG },
		{ "\x16\x03\x01\x00\x10", -EBADMSG },
		/* a name with a space in front: another parser folds it into the line before */
		{ "GET / HTTP/1.1\r\n Host: evil.test\r\nHost: api.test\r\n\r\n", -EBADMSG },
		{ "GET / HTTP/1.1\r\nHost: api.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", -EBADMSG },
	};

	for (size_t i = 0; i < N(bad); i++) {
		struct http1 *h = start(&plain);

		if (req(h, bad[i].in) != bad[i].err)
			fail_msg("case %zu: not %d (%s)", i, bad[i].err, http1_why(h));
		assert_int_equal(seen.n, 0);
		http1_free(h);
	}
}

/* The origin reads the request boundaries the proxy read: framing headers
 * are the proxy's own, the body re-framed. */
static void test_http1_bodies_are_reframed_as_the_proxy_read_them(void **state)
{
	struct http1 *h = start(&plain);
	const char *chunked = "POST /a HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "5\r\nhello\r\n0\r\n\r\n";
	int r;

	assert_int_equal(req(h, chunked), 0);
	assert_string_equal(seen.out, "POST /a HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "5\r\nhello\r\n0\r\n\r\n");
	http1_free(h);

	h = start(&plain);
	assert_int_equal(req(h, "PUT /b HTTP/1.1\r\nHost: api.test\r\ncontent-length:  3\r\n\r\nxyz"), 0);
	assert_string_equal(seen.out, "PUT /b HTTP/1.1\r\nHost: api.test\r\nContent-Length: 3\r\n\r\nxyz");
	http1_free(h);

	/* both framings: refused, or sent with one */
	h = start(&plain);
	r = req(h, "POST /c HTTP/1.1\r\nHost: api.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: evil.test\r\n\r\n");
	if (r == 0)
		fail_msg("taken");
	assert_null(strstr(seen.out, "smuggled"));
	assert_null(strstr(seen.out, "Content-Length"));
	http1_free(h);
}

static void test_http1_head_above_the_limit_is_refused(void **state)
{
	struct http1 *h = start(&plain);
	static char big[HTTP1_HEAD_MAX + 200];
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: api.test\r\nX-Pad: ");

	memset(big + n, 'a', HTTP1_HEAD_MAX);
	memcpy(big + n + HTTP1_HEAD_MAX, "\r\n\r\n", 5);
	assert_int_equal(req(h, big), -E2BIG);
	assert_int_equal(seen.n, 0);
	http1_free(h);
}

static void test_http1_unanswered_requests_are_recorded_at_the_end(void **state)
{
	struct http1 *h = start(&plain);

	assert_int_equal(req(h, "GET /1 HTTP/1.1\r\nHost: api.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: api.test\r\n\r\n"), 0);
	/* an answer read until the close */
	assert_int_equal(resp(h, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>"), 0);
	assert_int_equal(seen.nx, 0);
	assert_int_equal(http1_response_end(h), 0);
	assert_int_equal(seen.nx, 2);
	assert_int_equal(seen.x[0].status, 200);
	assert_int_equal(seen.x[0].resp_body, 6);
	assert_string_equal(seen.x[1].path, "/2");
	assert_int_equal(seen.x[1].status, 0);
	http1_free(h);
}

static void test_http1_too_many_unanswered_requests_are_refused(void **state)
{
	struct http1 *h = start(&plain);
	int r = 0;

	for (int i = 0; i <= HTTP1_PENDING_MAX && r == 0; i++)
		r = req(h, "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n");
	assert_int_equal(r, -ENOBUFS);
	http1_free(h);
}

static void test_http1_interim_answers_are_not_the_answer(void **state)
{
	struct http1 *h = start(&plain);

	assert_int_equal(req(h, "POST /e HTTP/1.1\r\nHost: api.test\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"), 0);
	assert_int_equal(resp(h, "HTTP/1.1 100 Continue\r\n\r\n"), 0);
	assert_int_equal(seen.nx, 0);
	assert_int_equal(req(h, "ok"), 0);
	assert_int_equal(resp(h, "HTTP/1.1 204 No Content\r\n\r\n"), 0);
	assert_int_equal(seen.nx, 1);
	assert_int_equal(seen.x[0].status, 204);
	assert_int_equal(seen.x[0].req_body, 2);
	http1_free(h);
}

static void test_http1_upgrade_waits_for_101(void **state)
{
	const char *ask = "GET /ws HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
	struct http1 *h = start(&plain);
	size_t head;
	char both[512];

	snprintf(both, sizeof(both), "%sFRAME1", ask);
	assert_int_equal(req(h, both), 0);
	head = seen.n;
	assert_null(strstr(seen.out, "FRAME1"));
	assert_int_equal(req(h, "FRAME2"), 0);
	assert_int_equal(seen.n, head);
	assert_int_equal(resp(h, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nsrv"), 0);
	assert_true(http1_upgraded(h));
	assert_string_equal(seen.out + head, "FRAME1FRAME2");
	assert_int_equal(req(h, "GET /not-http HTTP/1.1\r\nHost: evil.test\r\n\r\n"), 0); /* opaque now */
	assert_int_equal(seen.nx, 1);
	assert_int_equal(seen.x[0].status, 101);
	http1_free(h);

	/* refused: what the client sent after it never leaves */
	h = start(&plain);
	assert_int_equal(req(h, both), 0);
	assert_int_equal(resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), -EPERM);
	assert_null(strstr(seen.out, "FRAME1"));
	http1_free(h);
}

static void test_http1_path_is_escaped_and_cut(void **state)
{
	struct http1 *h = start(&plain);
	char line[2048];

	assert_int_equal(req(h, "GET /caf\xc3\xa9/%2e%2e HTTP/1.1\r\nHost: api.test\r\n\r\n"), 0);
	assert_int_equal(resp(h, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_string_equal(seen.x[0].path, "/caf%C3%A9/%2e%2e");
	assert_false(seen.x[0].path_cut);
	memset(line, 0, sizeof(line));
	strcpy(line, "GET /");
	memset(line + 5, 'p', 1000);
	strcat(line, " HTTP/1.1\r\nHost: api.test\r\n\r\n");
	assert_int_equal(req(h, line), 0);
	assert_int_equal(resp(h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_true(seen.x[1].path_cut);
	assert_int_equal(strlen(seen.x[1].path), HTTP1_PATH_MAX - 1);
	http1_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http1_head_gets_the_injected_header_and_loses_the_clients_copy),
		cmocka_unit_test(test_http1_every_exchange_of_a_keep_alive_connection_is_recorded),
		cmocka_unit_test(test_http1_refuses_a_request_for_another_host),
		cmocka_unit_test(test_http1_refuses_what_is_not_one_clear_request),
		cmocka_unit_test(test_http1_bodies_are_reframed_as_the_proxy_read_them),
		cmocka_unit_test(test_http1_head_above_the_limit_is_refused),
		cmocka_unit_test(test_http1_unanswered_requests_are_recorded_at_the_end),
		cmocka_unit_test(test_http1_too_many_unanswered_requests_are_refused),
		cmocka_unit_test(test_http1_interim_answers_are_not_the_answer),
		cmocka_unit_test(test_http1_upgrade_waits_for_101),
		cmocka_unit_test(test_http1_path_is_escaped_and_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
