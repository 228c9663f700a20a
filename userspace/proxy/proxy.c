/* sandtrail-proxy: the main loop (proxy.h says what it is).
 *
 *   sandtrail-proxy --control-fd N [--user NAME] [--dns ADDR[:PORT]]
 *       under sandtraild: sessions, their listeners and the map of
 *       transparent clients' destinations come on fd N (SOCK_SEQPACKET),
 *       records go back on it.
 *   sandtrail-proxy --listen ADDR:PORT --allow-domain D... [--records FILE]
 *       standalone (benches, tests): one explicit proxy, records as JSON lines.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <seccomp.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>

#include "events.h"
#include "proxy.h"

#define PROXY_CONTROL_FDS 2 /* a session's listener and DNS socket */

static const char usage[] =
	"usage: sandtrail-proxy --control-fd N [--user NAME] [--dns ADDR[:PORT]] [--upstream-ca FILE]\n"
	"       sandtrail-proxy --listen ADDR:PORT --allow-domain NAME|*.SUFFIX... [--records FILE]\n"
	"                       [--resolve HOST:PORT:ADDR]... [--user NAME] [--dns ADDR[:PORT]]\n"
	"                       [--inspect-tls [--ca-out FILE] [--inject-header DOMAIN:NAME=@FILE]...]\n"
	"                       [--upstream-ca FILE]\n"
	"       sandtrail-proxy --new-ca\n"
	"  The egress proxy of --network proxy sessions, started by sandtraild; standalone\n"
	"  for benches and tests.  HTTP CONNECT and plain HTTP; transparent TLS by SNI.\n"
	"  --upstream-ca: what verifies the origins of inspected connections (default:\n"
	"  the system's bundle).  --new-ca: a session CA for `sandtrail run --inspect-tls`\n"
	"  (key and certificate, PEM) on stdout.\n";

const char *proxy_session_match(const struct proxy_session *s, const char *host)
{
	for (size_t i = 0; i < s->ndomains; i++)
		if (domain_match(s->domains[i], host))
			return s->domains[i];
	return NULL;
}

/* 127/8, 0/8, ::1, ::, and the same IPv4-mapped */
static bool host_own(int family, const uint8_t *addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t zero[15];

	if (family == AF_INET6 && !memcmp(addr, mapped, 12)) {
		family = AF_INET;
		addr += 12;
	}
	if (family == AF_INET)
		return addr[0] == 127 || addr[0] == 0;
	return !memcmp(addr, zero, 15) && addr[15] <= 1;
}

const char *proxy_session_match_addr(const struct proxy_session *s, int family, const uint8_t *addr, uint16_t port)
{
	int i;

	if (host_own(family, addr))
		return NULL;
	i = netpolicy_match(&s->allow, family, addr, port);
	return i < 0 ? NULL : s->allow_specs[i];
}

void proxy_record(struct proxy *px, json_t *rec)
{
	char *text = json_dumps(rec, JSON_COMPACT);

	json_decref(rec);
	if (!text)
		return;
	if (px->records) {
		fprintf(px->records, "%s\n", text);
		fflush(px->records);
	} else if (px->control_fd >= 0 && send(px->control_fd, text, strlen(text), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "sandtrail-proxy: record lost: %s\n", strerror(errno));
	}
	free(text);
}

static void session_free(struct proxy_session *s);

void proxy_session_put(struct proxy_session *s)
{
	if (s->retired && s->refs == 0)
		session_free(s);
}

static void session_free(struct proxy_session *s)
{
	if (s->listener)
		evconnlistener_free(s->listener);
	dnsd_stop(s);
	for (size_t i = 0; i < s->ndomains; i++)
		free(s->domains[i]);
	for (size_t i = 0; i < s->allow.n; i++)
		free(s->allow_specs[i]);
	ca_free(s->ca);
	for (size_t i = 0; i < s->ninject; i++) {
		free(s->inject[i].domain);
		free(s->inject[i].name);
		OPENSSL_clear_free(s->inject[i].value, strlen(s->inject[i].value));
	}
	free(s);
}

/* one injected header: a domain pattern, a token for a name, a value of one line */
static int session_add_inject(struct proxy_session *s, const char *pat, const char *name, const char *value)
{
	char canon[DOMAIN_MAX + 1], perr[128];
	struct proxy_inject *j = &s->inject[s->ninject];

	if (s->ninject == PROXY_INJECT_MAX || domain_pattern_parse(pat, canon, perr, sizeof(perr)) < 0 || !name[0] ||
	    strspn(name, "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") < strlen(name) ||
	    strpbrk(value, "\r\n"))
		return -1;
	j->domain = strdup(canon);
	j->name = strdup(name);
	j->value = strdup(value);
	if (!j->domain || !j->name || !j->value) {
		free(j->domain);
		free(j->name);
		free(j->value);
		return -1;
	}
	s->ninject++;
	return 0;
}

/* --new-ca, alone: a session CA (key and certificate, PEM) on stdout, for
 * `sandtrail run --inspect-tls` (which then loads no TLS library itself) */
static int new_ca(int argc)
{
	char err[256], *pem = NULL;
	size_t len = 0;
	struct ca *ca;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "sandtrail-proxy: --new-ca takes no other option\n");
		return 2;
	}
	ca = ca_new(NULL, err, sizeof(err));
	if (!ca) {
		fprintf(stderr, "sandtrail-proxy: --new-ca: %s\n", err);
		return 1;
	}
	if (ca_export(ca, &pem, &len) == 0 && fwrite(pem, 1, len, stdout) == len && fflush(stdout) == 0)
		rc = 0;
	else
		fprintf(stderr, "sandtrail-proxy: --new-ca: %s\n", strerror(errno ? errno : ENOMEM));
	OPENSSL_clear_free(pem, len);
	ca_free(ca);
	return rc;
}

/* --inspect-tls in standalone mode: a session CA, its certificate to ca_out */
static int session_inspect(struct proxy_session *s, const char *ca_out)
{
	char err[256], *pem = NULL;
	size_t len;
	FILE *f;

	s->ca = ca_new(s->id, err, sizeof(err));
	if (!s->ca) {
		fprintf(stderr, "sandtrail-proxy: --inspect-tls: %s\n", err);
		return -1;
	}
	if (ca_out && (ca_cert_pem(s->ca, &pem, &len) < 0 || !(f = fopen(ca_out, "we")) ||
		       (fwrite(pem, 1, len, f) != len) + fclose(f))) {
		fprintf(stderr, "sandtrail-proxy: --ca-out %s: %s\n", ca_out, strerror(errno));
		free(pem);
		return -1;
	}
	free(pem);
	s->inspect = true;
	return 0;
}

/* The trust store for origins: FILE, or the system's bundle; read now,
 * before the filter (no file opens later).  Origins it cannot verify are
 * refused (fail closed). */
static int upstream_new(struct proxy *px, const char *file)
{
	const char *path = file ? file : X509_get_default_cert_file();

	px->upstream = SSL_CTX_new(TLS_client_method());
	if (!px->upstream)
		return -1;
	SSL_CTX_set_verify(px->upstream, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_file(px->upstream, path) != 1) {
		ERR_clear_error();
		fprintf(stderr, "sandtrail-proxy: trust store %s: no certificates%s\n", path,
			file ? "" : " (inspected origins will not verify)");
		return file ? -1 : 0;
	}
	return 0;
}

/* --inject-header DOMAIN:NAME=@FILE: the value is FILE's first line */
static int session_inject(struct proxy_session *s, const char *spec)
{
	const char *colon = strchr(spec, ':'), *eq = colon ? strstr(colon, "=@") : NULL;
	char pat[DOMAIN_MAX + 3], name[256], value[4096];
	size_t n;
	FILE *f;
	int r;

	if (!colon || !eq || (size_t)(colon - spec) >= sizeof(pat) || (size_t)(eq - colon - 1) >= sizeof(name))
		return -1;
	snprintf(pat, sizeof(pat), "%.*s", (int)(colon - spec), spec);
	snprintf(name, sizeof(name), "%.*s", (int)(eq - colon - 1), colon + 1);
	f = fopen(eq + 2, "re");
	if (!f)
		return -1;
	n = fread(value, 1, sizeof(value) - 1, f);
	fclose(f);
	value[n] = 0;
	value[strcspn(value, "\r\n")] = 0;
	r = session_add_inject(s, pat, name, value);
	OPENSSL_cleanse(value, sizeof(value));
	return r;
}

static int session_add_domain(struct proxy_session *s, const char *pat)
{
	char canon[DOMAIN_MAX + 1], err[300];

	if (s->ndomains == PROXY_DOMAINS_MAX || domain_pattern_parse(pat, canon, err, sizeof(err)) < 0)
		return -1;
	s->domains[s->ndomains] = strdup(canon);
	if (!s->domains[s->ndomains])
		return -1;
	s->ndomains++;
	return 0;
}

static int session_add_rule(struct proxy_session *s, const char *spec)
{
	char err[256];

	if (s->allow.n == NETPOLICY_RULES_MAX || netpolicy_parse_rule(spec, &s->allow.rules[s->allow.n], err, sizeof(err)) < 0)
		return -1;
	s->allow_specs[s->allow.n] = strdup(spec);
	if (!s->allow_specs[s->allow.n])
		return -1;
	s->allow.n++;
	return 0;
}

static struct proxy_session *session_new(struct proxy *px, const char *id)
{
	struct proxy_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->px = px;
	return s;
}

static int session_listen(struct proxy_session *s, int fd)
{
	/* libevent accepts until EAGAIN: a blocking listener would stop the loop */
	if (evutil_make_socket_nonblocking(fd) < 0)
		return -1;
	/* no Nagle towards the client: accepted sockets inherit it; they are
	 * close-on-exec (accept4), as every other fd of the proxy */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	s->listener = evconnlistener_new(s->px->base, proxy_conn_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
					ST_PROXY_BACKLOG, fd);
	return s->listener ? 0 : -1;
}

/* ---- under sandtraild ---- */

/* fds: what came with m; session_add: its listener, then its DNS socket */
static void control_msg(struct proxy *px, json_t *m, int *fds, size_t nfds)
{
	const char *cmd = json_string_value(json_object_get(m, "cmd"));
	const char *id = json_string_value(json_object_get(m, "session"));
	struct proxy_session *s, **pp;
	int fd = nfds ? fds[0] : -1;

	if (cmd && !strcmp(cmd, "map") && nfds == 1) {
		if (px->map_fd >= 0)
			close(px->map_fd);
		px->map_fd = fd;
		return;
	}
	if (cmd && !strcmp(cmd, "session_add") && id && nfds == 2) {
		json_t *d, *v;
		size_t i;

		s = session_new(px, id);
		if (!s)
			goto bad;
		s->cgid = (uint64_t)json_integer_value(json_object_get(m, "cgid"));
		d = json_object_get(m, "domains");
		json_array_foreach(d, i, v) {
			if (!json_is_string(v) || session_add_domain(s, json_string_value(v)) < 0) {
				session_free(s);
				goto bad;
			}
		}
		json_array_foreach(json_object_get(m, "allow"), i, v) {
			if (!json_is_string(v) || session_add_rule(s, json_string_value(v)) < 0) {
				session_free(s);
				goto bad;
			}
		}
		/* --inspect-tls: the CA sandtraild keeps (restarts keep it), the headers to add */
		if (json_is_true(json_object_get(m, "inspect"))) {
			const char *pem = json_string_value(json_object_get(m, "ca"));
			char err[256];

			s->ca = pem ? ca_import(pem, strlen(pem), err, sizeof(err)) : NULL;
			if (!s->ca) {
				fprintf(stderr, "sandtrail-proxy: session %s: %s\n", id, pem ? err : "inspect without a CA");
				session_free(s);
				goto bad;
			}
			s->inspect = true;
		}
		json_array_foreach(json_object_get(m, "inject"), i, v) {
			const char *dom = json_string_value(json_object_get(v, "domain"));
			const char *name = json_string_value(json_object_get(v, "name"));
			const char *val = json_string_value(json_object_get(v, "value"));

			if (!dom || !name || !val || session_add_inject(s, dom, name, val) < 0) {
				session_free(s);
				goto bad;
			}
		}
		if (session_listen(s, fd) < 0) {
			session_free(s);
			goto bad;
		}
		/* the listener is the session's now; the DNS socket next */
		fds[0] = -1;
		if (dnsd_start(s, fds[1]) < 0) {
			session_free(s);
			goto bad;
		}
		s->next = px->sessions;
		px->sessions = s;
		return;
	}
	if (cmd && !strcmp(cmd, "session_del") && id) {
		for (pp = &px->sessions; *pp; pp = &(*pp)->next)
			if (!strcmp((*pp)->id, id)) {
				s = *pp;
				*pp = s->next;
				/* its connections hold it: the last one frees it */
				evconnlistener_free(s->listener);
				s->listener = NULL;
				dnsd_stop(s);
				s->retired = true;
				proxy_session_put(s);
				return;
			}
		return;
	}
bad:
	fprintf(stderr, "sandtrail-proxy: a control message it cannot follow (%s)\n", cmd ? cmd : "no cmd");
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void control_read(evutil_socket_t cfd, short what, void *arg)
{
	struct proxy *px = arg;
	char buf[65536], cbuf[CMSG_SPACE(PROXY_CONTROL_FDS * sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	json_t *m;
	ssize_t n = recvmsg(cfd, &mh, MSG_CMSG_CLOEXEC);
	int fds[PROXY_CONTROL_FDS];
	size_t nfds = 0;

	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		/* sandtraild is gone: so are the sessions */
		event_base_loopbreak(px->base);
		return;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && !nfds &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int)) && cm->cmsg_len <= CMSG_LEN(sizeof(fds))) {
			nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
		}
	buf[n] = 0;
	m = json_loads(buf, 0, NULL);
	if (m && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		control_msg(px, m, fds, nfds);
	else
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
	json_decref(m);
}

/* ---- containment of the proxy itself ---- */

/* What libevent (epoll), evdns, the sockets and the map lookups need;
 * anything else is EPERM. */
static int apply_seccomp(void)
{
	static const char *const allowed[] = {
		"read", "write", "readv", "writev", "close", "fstat", "newfstatat", "lseek", "brk", "mmap", "munmap",
		"mremap", "madvise", "mprotect", "futex", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
		"clock_gettime", "gettimeofday", "getpid", "gettid", "getrandom", "exit", "exit_group",
		"restart_syscall", "poll", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "pipe2", "eventfd2",
		"fcntl", "ioctl", "socket", "connect", "accept4", "accept", "listen", "getsockname", "getpeername",
		"getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown", "bpf",
		"timerfd_create", "timerfd_settime", "splice", /* tunnel.c */
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;
		if (!strcmp(allowed[i], "socket")) /* inet only: no netlink, no packets, no unix */
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, AF_INET)) ?:
			     seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
		else if (!strcmp(allowed[i], "bpf")) /* the map it was given: look up, delete */
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, BPF_MAP_LOOKUP_ELEM)) ?:
			     seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, BPF_MAP_DELETE_ELEM));
		else
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* root -> user (no groups, no capabilities left), then no_new_privs. */
static int drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() == 0) {
		pw = getpwnam(user);
		if (!pw) {
			fprintf(stderr, "sandtrail-proxy: --user %s: no such user\n", user);
			return -1;
		}
		if (pw->pw_uid == 0) {
			fprintf(stderr, "sandtrail-proxy: --user %s: refusing to run as root\n", user);
			return -1;
		}
		if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
			fprintf(stderr, "sandtrail-proxy: setresuid(%u): %s\n", (unsigned)pw->pw_uid, strerror(errno));
			return -1;
		}
		if (setresuid(0, 0, 0) == 0) {
			fprintf(stderr, "sandtrail-proxy: could get root back: refusing to run\n");
			return -1;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		fprintf(stderr, "sandtrail-proxy: prctl: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int add_resolve(struct proxy *px, const char *spec)
{
	struct proxy_resolve *r;
	const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char err[300];
	int port;

	if (!c1 || !c2 || px->nresolve == PROXY_RESOLVE_MAX || (size_t)(c1 - spec) > DOMAIN_MAX)
		return -1;
	r = &px->resolve[px->nresolve];
	snprintf(r->host, sizeof(r->host), "%.*s", (int)(c1 - spec), spec);
	if (domain_pattern_parse(r->host, r->host, err, sizeof(err)) < 0 || r->host[0] == '*')
		return -1;
	port = atoi(c1 + 1);
	if (port < 1 || port > 65535 || strlen(c2 + 1) >= sizeof(r->addr))
		return -1;
	r->port = (uint16_t)port;
	snprintf(r->addr, sizeof(r->addr), "%s", c2 + 1);
	px->nresolve++;
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control-fd", required_argument, NULL, 'c' }, { "listen", required_argument, NULL, 'l' },
		{ "allow-domain", required_argument, NULL, 'd' }, { "records", required_argument, NULL, 'r' },
		{ "resolve", required_argument, NULL, 'R' },      { "user", required_argument, NULL, 'u' },
		{ "dns", required_argument, NULL, 'n' },          { "help", no_argument, NULL, 'h' },
		{ "inspect-tls", no_argument, NULL, 'I' },        { "upstream-ca", required_argument, NULL, 'U' },
		{ "ca-out", required_argument, NULL, 'C' },       { "inject-header", required_argument, NULL, 'J' },
		{ "new-ca", no_argument, NULL, 'N' },             { 0 },
	};
	struct proxy px = { .map_fd = -1, .control_fd = -1 };
	struct proxy_session *standalone = NULL;
	const char *listen_at = NULL, *records = NULL, *user = "nobody", *dns = NULL, *upstream_ca = NULL, *ca_out = NULL;
	bool inspect = false;
	struct event *sigterm = NULL, *sigint = NULL, *ctl = NULL;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), c, rc = 1;

	signal(SIGPIPE, SIG_IGN);
	standalone = session_new(&px, "standalone");
	if (!standalone)
		return 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': px.control_fd = atoi(optarg); break;
		case 'l': listen_at = optarg; break;
		case 'r': records = optarg; break;
		case 'u': user = optarg; break;
		case 'n': dns = optarg; break;
		case 'd':
			if (session_add_domain(standalone, optarg) < 0) {
				fprintf(stderr, "sandtrail-proxy: --allow-domain '%s': not a domain pattern\n", optarg);
				goto out;
			}
			break;
		case 'R':
			if (add_resolve(&px, optarg) < 0) {
				fprintf(stderr, "sandtrail-proxy: --resolve '%s': expected HOST:PORT:ADDR\n", optarg);
				goto out;
			}
			break;
		case 'I': inspect = true; break;
		case 'U': upstream_ca = optarg; break;
		case 'C': ca_out = optarg; break;
		case 'J':
			if (session_inject(standalone, optarg) < 0) {
				fprintf(stderr, "sandtrail-proxy: --inject-header '%s': expected DOMAIN:NAME=@FILE, one, readable\n", optarg);
				goto out;
			}
			break;
		case 'N': rc = new_ca(argc); goto out;
		case 'h': fputs(usage, stdout); rc = 0; goto out;
		default: fputs(usage, stderr); goto out;
		}
	}
	if ((px.control_fd >= 0) == (listen_at != NULL) || optind != argc) {
		fputs(usage, stderr);
		goto out;
	}
	if ((px.control_fd >= 0 && (inspect || ca_out || standalone->ninject)) || upstream_new(&px, upstream_ca) < 0) {
		if (px.control_fd >= 0)
			fprintf(stderr, "sandtrail-proxy: --inspect-tls, --ca-out, --inject-header: standalone only\n");
		goto out;
	}
	px.base = event_base_new();
	if (!px.base)
		goto out;
	/* its own resolver, read before the filter: the sandbox's DNS never counts */
	px.dns = evdns_base_new(px.base, dns ? 0 : EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!px.dns || (dns && evdns_base_nameserver_ip_add(px.dns, dns) != 0)) {
		fprintf(stderr, "sandtrail-proxy: resolver%s%s: cannot set it up\n", dns ? " " : "", dns ? dns : "");
		goto out;
	}
	if (listen_at) {
		int fd;

		if (!standalone->ndomains) {
			fprintf(stderr, "sandtrail-proxy: --listen needs at least one --allow-domain\n");
			goto out;
		}
		if (!inspect && (standalone->ninject || ca_out)) {
			fprintf(stderr, "sandtrail-proxy: --inject-header and --ca-out need --inspect-tls\n");
			goto out;
		}
		if (inspect && session_inspect(standalone, ca_out) < 0)
			goto out;
		if (evutil_parse_sockaddr_port(listen_at, (struct sockaddr *)&ss, &sslen) < 0) {
			fprintf(stderr, "sandtrail-proxy: --listen '%s': expected ADDR:PORT\n", listen_at);
			goto out;
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) < 0 ||
		    bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) < 0 || session_listen(standalone, fd) < 0) {
			fprintf(stderr, "sandtrail-proxy: --listen %s: %s\n", listen_at, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		px.records = records && strcmp(records, "-") ? fopen(records, "ae") : stdout;
		if (!px.records) {
			fprintf(stderr, "sandtrail-proxy: --records %s: %s\n", records, strerror(errno));
			goto out;
		}
		px.sessions = standalone;
		standalone = NULL;
	} else {
		ctl = event_new(px.base, px.control_fd, EV_READ | EV_PERSIST, control_read, &px);
		if (!ctl || event_add(ctl, NULL) < 0)
			goto out;
	}
	sigterm = evsignal_new(px.base, SIGTERM, on_signal, px.base);
	sigint = evsignal_new(px.base, SIGINT, on_signal, px.base);
	if (!sigterm || !sigint || event_add(sigterm, NULL) < 0 || event_add(sigint, NULL) < 0)
		goto out;
	/* evdns' transaction ids come from it: seeded while /dev/urandom opens */
	if (evutil_secure_rng_init() < 0)
		goto out;
	if (drop_privileges(user) < 0)
		goto out;
	if ((rc = apply_seccomp()) != 0) {
		fprintf(stderr, "sandtrail-proxy: seccomp: %s\n", strerror(-rc));
		rc = 1;
		goto out;
	}
	/* what sandtraild queued before it started (the map, its sessions) is
	 * in place before it hears "ready": the gap it records ends there */
	if (px.control_fd >= 0) {
		struct pollfd pf = { px.control_fd, POLLIN, 0 };

		while (poll(&pf, 1, 0) == 1 && event_base_got_break(px.base) == 0)
			control_read(px.control_fd, EV_READ, &px);
		proxy_record(&px, json_pack("{s:b}", "ready", 1));
	}
	fprintf(stderr, "sandtrail-proxy: ready\n");
	rc = event_base_dispatch(px.base) < 0;
out:
	while (px.sessions) {
		struct proxy_session *s = px.sessions;

		px.sessions = s->next;
		session_free(s);
	}
	if (standalone)
		session_free(standalone);
	if (ctl)
		event_free(ctl);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (px.dns)
		evdns_base_free(px.dns, 1);
	if (px.base)
		event_base_free(px.base);
	if (px.records && px.records != stdout)
		fclose(px.records);
	SSL_CTX_free(px.upstream);
	return rc;
}
