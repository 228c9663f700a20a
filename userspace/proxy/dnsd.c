/* The session's resolver (dnsd.h): libevent's DNS server on the datagram
 * socket sandtraild bound in the session's network namespace.  Nothing is
 * forwarded: the answer is made here from the session's patterns. */
#include <stdlib.h>
#include <string.h>
#include <event2/dns_struct.h>

#include "escape.h"
#include "proxy.h"

/* The name's queries so far, recorded at the 1st, 2nd, 4th, 8th...: the
 * same name asked a million times is 21 records. */
static void record_denied(struct proxy_session *s, const char *name, bool canon, int qtype)
{
	struct proxy_dns_denied *d = NULL;
	char type[8], *e;
	bool shared = false;
	json_t *r;

	if (!s->denied && !(s->denied = calloc(PROXY_DNS_NAMES, sizeof(*s->denied))))
		return;
	for (size_t i = 0; i < s->ndenied && !d; i++)
		if (!strcmp(s->denied[i].name, name))
			d = &s->denied[i];
	if (!d && s->ndenied < PROXY_DNS_NAMES) {
		d = &s->denied[s->ndenied++];
		snprintf(d->name, sizeof(d->name), "%s", name);
	}
	if (!d) { /* past the table, the other names share one count */
		d = &s->denied_other;
		shared = true;
	}
	d->count++;
	if (d->count & (d->count - 1))
		return;
	if (qtype == EVDNS_TYPE_A || qtype == EVDNS_TYPE_AAAA)
		snprintf(type, sizeof(type), "%s", qtype == EVDNS_TYPE_A ? "A" : "AAAA");
	else
		snprintf(type, sizeof(type), "%d", qtype);
	e = canon ? NULL : escape_bytes(name, strnlen(name, 255));
	r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "type", "proxy_dns", "session", s->id, "domain",
		      canon ? name : e ? e : "", "qtype", type, "verdict", "deny", "reason", canon ? "not_allowed" : "bad_name",
		      "count", (json_int_t)d->count);
	free(e);
	if (r && shared)
		json_object_set_new(r, "shared", json_true());
	if (r)
		proxy_record(s->px, r);
}

static void on_query(struct evdns_server_request *req, void *arg)
{
	static const uint8_t synthetic[4] = PROXY_DNS_ADDR;
	struct proxy_session *s = arg;
	char canon[DOMAIN_MAX + 1];
	int rcode = 0;

	/* one question is all resolvers ask; a packet of several is answered
	 * by its first (the answer must fit the one header code) */
	if (req->nquestions < 1) {
		evdns_server_request_respond(req, DNS_ERR_FORMAT);
		return;
	}
	const struct evdns_server_question *q = req->questions[0];
	bool ok = domain_host_canon(q->name, strlen(q->name), canon) == 0;

	if (!ok || !proxy_session_match(s, canon)) {
		record_denied(s, ok ? canon : q->name, ok, q->type);
		rcode = DNS_ERR_NOTEXIST;
	} else if (q->type == EVDNS_TYPE_A && q->dns_question_class == EVDNS_CLASS_INET) {
		evdns_server_request_add_a_reply(req, q->name, 1, synthetic, PROXY_DNS_ANSWER_TTL);
	} /* any other type of an allowed name: no data (AAAA too: clients take the A) */
	evdns_server_request_set_flags(req, EVDNS_FLAGS_AA);
	evdns_server_request_respond(req, rcode);
}

int dnsd_start(struct proxy_session *s, int fd)
{
	/* the server reads until EAGAIN */
	if (evutil_make_socket_nonblocking(fd) < 0)
		return -1;
	s->dns_port = evdns_add_server_port_with_base(s->px->base, fd, 0, on_query, s);
	return s->dns_port ? 0 : -1;
}

void dnsd_stop(struct proxy_session *s)
{
	if (s->dns_port)
		evdns_close_server_port(s->dns_port);
	s->dns_port = NULL;
	free(s->denied);
	s->denied = NULL;
	s->ndenied = 0;
}
