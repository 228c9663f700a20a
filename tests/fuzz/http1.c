/* libFuzzer: the clear bytes of one proxied HTTP/1.1 connection: the first
 * byte says where the client's bytes end and the origin's begin, the next
 * how to cut the client's into two reads.  Whatever http1 sends to the
 * origin must read, to another HTTP parser, as whole requests for the
 * connection's host only (no request smuggled past the check), and what it
 * records holds only printable bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "proxy/domain.h"
#include "proxy/http1.h"

static char out[1 << 20];
static size_t outn;
static int in_host, in_value;
static char host[300];
static size_t hostn;

static int emit(void *arg, const void *p, size_t n)
{
	if (outn + n > sizeof(out))
		return -1;
	memcpy(out + outn, p, n);
	outn += n;
	return 0;
}

static void exchange(void *arg, const struct http1_exchange *x)
{
	for (const char *s = x->path; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			__builtin_trap();
	for (const char *s = x->content_type; *s; s++)
		if (*s < 0x20 || *s >= 0x7f)
			__builtin_trap();
}

static int field(http_parser *p, const char *at, size_t n)
{
	if (in_value)
		in_host = 0;
	in_value = 0;
	in_host = n == 4 && !strncasecmp(at, "host", 4); /* http1 sends names whole */
	return 0;
}

static int value(http_parser *p, const char *at, size_t n)
{
	in_value = 1;
	if (in_host && hostn + n < sizeof(host)) {
		memcpy(host + hostn, at, n);
		hostn += n;
	}
	return 0;
}

static int headers(http_parser *p)
{
	char canon[DOMAIN_MAX + 1];
	char *colon;

	host[hostn] = 0;
	colon = strrchr(host, ':');
	if (colon && (strspn(colon + 1, "0123456789") != strlen(colon + 1) || strtoul(colon + 1, NULL, 10) != 443))
		__builtin_trap();
	if (domain_host_canon(host, colon ? (size_t)(colon - host) : hostn, canon) < 0 || strcmp(canon, "api.test"))
		__builtin_trap();
	hostn = 0;
	in_host = in_value = 0;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http1_config cfg = {
		.host = "api.test", .port = 443, .inject_name = "x-api-key", .inject_value = "k",
		.emit = emit, .on_exchange = exchange,
	};
	static const http_parser_settings check = {
		.on_header_field = field, .on_header_value = value, .on_headers_complete = headers,
	};
	struct http1 *h;
	size_t cut, split;
	http_parser p;
	int r;

	if (size < 2)
		return 0;
	cut = 2 + (size - 2) * data[0] / 256;
	split = 2 + (cut - 2) * data[1] / 256;
	outn = 0;
	h = http1_new(&cfg);
	if (!h)
		return 0;
	r = http1_request(h, (const char *)data + 2, split - 2);
	if (r == 0)
		r = http1_request(h, (const char *)data + split, cut - split);
	if (r == 0 && http1_response(h, (const char *)data + cut, size - cut) == 0)
		http1_response_end(h);
	if (r < 0 && (!http1_why(h)[0] || strchr(http1_why(h), '\n')))
		__builtin_trap();
	/* what went to the origin, read by a parser of its own */
	if (!http1_upgraded(h)) {
		http_parser_init(&p, HTTP_REQUEST);
		hostn = 0;
		in_host = in_value = 0;
		http_parser_execute(&p, &check, out, outn);
		/* a request refused half way may leave a head without its body:
		 * the connection ends there; every head that went names api.test */
		if (r == 0 && HTTP_PARSER_ERRNO(&p) != HPE_OK && !p.upgrade)
			__builtin_trap();
	}
	http1_free(h);
	return 0;
}
