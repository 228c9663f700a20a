#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "collector/collector.h"
#include "escape.h"
#include "backend.h"
#include "resolve.h"
#include "seccomp_profile.h"
#include "manager.h"
#include "beside.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SETUP_DEADLINE_MS 30000 /* namespaces and mounts take milliseconds: a hung one is a fault */

/* Signals the caller may send that belong to CMD. */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH };

/* Those that ask the session to end: forwarded, then SIGKILL for all of it
 * after the grace period; before CMD started they end the start. */
static bool stops(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT;
}

struct run {
	const struct manager_opts *o;
	struct seccomp_prog seccomp;
	struct netpolicy net;
	uint32_t ttl;
	char *env[POLICY_ENV_MAX + POLICY_SECRETS_MAX + 24]; /* + ours: PATH..., the proxy's, the CA's */
	size_t nenv;
	json_t *redact;
	char *ca_pem;    /* --inspect-tls: the session CA, key and certificate (secret: wiped) */
	size_t ca_len;
	char *ca_bundle; /* what the sandbox trusts: the host's bundle and the CA's certificate */
	json_t *inject;  /* [{domain, name, value}] for sandtraild (values redacted in records) */
	int ctl;
	char id[128];
	struct cgroup_session cg;
	bool cg_made;
	const struct backend_ops *be;
	void *st; /* the backend's state */
	json_t *ack; /* sandtraild's reply to watch */
	bool started;
	bool timed_out, lost_daemon;
	uint64_t reattach_by; /* after a hand-over: the next collector must take us back by then (mono ms) */
	int sfd;         /* the caller's signals, queued */
	int interrupted; /* a stop signal ended the start */
	char err[1024];
};

static int env_add(struct run *r, const char *name, const char *val)
{
	char *kv;

	for (size_t i = 0; i < r->nenv; i++)
		if (!strncmp(r->env[i], name, strlen(name)) && r->env[i][strlen(name)] == '=') {
			free(r->env[i]);
			r->env[i] = r->env[--r->nenv];
		}
	if (asprintf(&kv, "%s=%s", name, val) < 0)
		return -1;
	r->env[r->nenv++] = kv;
	return 0;
}

/* A secret's value: from the caller's environment or a file (one trailing
 * newline dropped, as `echo` leaves one). */
static char *secret_value(const struct policy_secret *s, char *err, size_t errlen)
{
	char *val = NULL;
	size_t len = 0;

	if (!s->file) {
		const char *v = getenv(s->name);

		if (!v) {
			snprintf(err, errlen, "--secret %s: not set in the caller's environment", s->name);
			return NULL;
		}
		return strdup(v);
	}
	if (policy_read_file(s->file, &val, &len) < 0) {
		snprintf(err, errlen, "--secret %s=@%s: %s", s->name, s->file, strerror(errno));
		return NULL;
	}
	if (len && val[len - 1] == '\n')
		val[--len] = 0;
	if (strlen(val) != len) {
		snprintf(err, errlen, "--secret %s=@%s: holds a NUL byte (not usable as an environment value)",
			 s->name, s->file);
		free(val);
		return NULL;
	}
	return val;
}

static int build_env(struct run *r)
{
	const struct policy *p = r->o->p;
	const char *term = getenv("TERM");

	r->redact = json_array();
	env_add(r, "PATH", DEFAULT_PATH);
	env_add(r, "HOME", "/tmp");
	env_add(r, "HOSTNAME", p->hostname ? p->hostname : "sandtrail");
	if (term)
		env_add(r, "TERM", term);
	for (size_t i = 0; i < p->nenv; i++) {
		char *name = strndup(p->env[i], (size_t)(strchr(p->env[i], '=') - p->env[i]));

		env_add(r, name, strchr(p->env[i], '=') + 1);
		free(name);
	}
	/* after -e: the session's clients find the proxy; the kernel sends the
	 * others to it anyway */
	if (p->network == POLICY_NET_PROXY) {
		static const char *const vars[] = { "HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy" };
		char url[64];

		snprintf(url, sizeof(url), "http://127.0.0.1:%d", ST_PROXY_PORT);
		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			env_add(r, vars[i], url);
		env_add(r, "NO_PROXY", "localhost,127.0.0.1,::1");
		env_add(r, "no_proxy", "localhost,127.0.0.1,::1");
	}
	/* the bundle with the session CA, for the clients that read one of these */
	if (p->inspect_tls) {
		static const char *const vars[] = { "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
						    "CURL_CA_BUNDLE" };

		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			env_add(r, vars[i], MANAGER_CA_BUNDLE);
	}
	for (size_t i = 0; i < p->nsecrets; i++) {
		char *val = secret_value(&p->secrets[i], r->err, sizeof(r->err));
		json_t *v;

		if (!val)
			return -1;
		v = json_string(val);
		if (!v) {
			snprintf(r->err, sizeof(r->err), "--secret %s: value is not valid UTF-8", p->secrets[i].name);
			free(val);
			return -1;
		}
		if (!*val) {
			snprintf(r->err, sizeof(r->err), "--secret %s: value is empty", p->secrets[i].name);
			json_decref(v);
			free(val);
			return -1;
		}
		json_array_append_new(r->redact, json_pack("{s:s, s:o}", "name", p->secrets[i].name, "value", v));
		env_add(r, p->secrets[i].name, val);
		explicit_bzero(val, strlen(val));
		free(val);
	}
	r->env[r->nenv] = NULL;
	return 0;
}

#define HOST_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

#define CA_PEM_MAX 65536

/* The session CA from `sandtrail-proxy --new-ca` into r->ca_pem: key and
 * certificate, PEM (a secret: wiped when the run ends).  The proxy links
 * OpenSSL; run loads no TLS library for it. */
static int new_session_ca(struct run *r)
{
	char path[PATH_MAX];
	int p[2], status, rc = beside_self("sandtrail-proxy", path, sizeof(path));
	pid_t pid;
	ssize_t n;

	if (rc < 0 || pipe2(p, O_CLOEXEC) < 0) {
		snprintf(r->err, sizeof(r->err), "--inspect-tls: sandtrail-proxy: %s", strerror(rc < 0 ? -rc : errno));
		return -1;
	}
	r->ca_pem = malloc(CA_PEM_MAX);
	pid = r->ca_pem ? fork() : -1;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl(path, "sandtrail-proxy", "--new-ca", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	r->ca_len = 0;
	while (pid > 0 && (n = read(p[0], r->ca_pem + r->ca_len, CA_PEM_MAX - 1 - r->ca_len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (r->ca_len += (size_t)n) == CA_PEM_MAX - 1)
			break;
	}
	close(p[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    r->ca_len == CA_PEM_MAX - 1) {
		snprintf(r->err, sizeof(r->err), "--inspect-tls: %.200s --new-ca failed (see above)", path);
		return -1;
	}
	r->ca_pem[r->ca_len] = 0;
	return 0;
}

/* --inspect-tls: the session CA (its key goes to sandtraild for the proxy,
 * never into the sandbox), the bundle the sandbox trusts, and the values of
 * --inject-header (files read now, redacted in every record, never in the
 * sandbox's environment). */
static int inspect_setup(struct run *r)
{
	const struct policy *p = r->o->p;
	char *host = NULL;
	const char *cert;
	size_t hlen = 0, clen;

	if (new_session_ca(r) < 0)
		return -1;
	cert = strstr(r->ca_pem, "-----BEGIN CERTIFICATE-----");
	if (!cert) {
		snprintf(r->err, sizeof(r->err), "--inspect-tls: sandtrail-proxy --new-ca wrote no certificate");
		return -1;
	}
	clen = r->ca_len - (size_t)(cert - r->ca_pem);
	if (policy_read_file(HOST_CA_BUNDLE, &host, &hlen) < 0) {
		host = NULL; /* no bundle on this host: the session trusts its CA alone */
		hlen = 0;
	}
	if (asprintf(&r->ca_bundle, "%.*s%s%.*s", (int)hlen, host ? host : "", hlen && host[hlen - 1] != '\n' ? "\n" : "",
		     (int)clen, cert) < 0)
		r->ca_bundle = NULL;
	free(host);
	if (!r->ca_bundle) {
		snprintf(r->err, sizeof(r->err), "--inspect-tls: out of memory");
		return -1;
	}
	r->inject = json_array();
	for (size_t i = 0; i < p->ninject; i++) {
		const struct policy_inject *in = &p->inject[i];
		char *val = NULL;
		size_t len = 0;

		if (policy_read_file(in->file, &val, &len) < 0) {
			snprintf(r->err, sizeof(r->err), "--inject-header %s:%s: %s: %s", in->domain, in->name, in->file,
				 strerror(errno));
			return -1;
		}
		val[strcspn(val, "\r\n")] = 0; /* its first line: a header value has no line breaks */
		if (!*val || !json_string(val)) {
			snprintf(r->err, sizeof(r->err), "--inject-header %s:%s: %s: %s", in->domain, in->name, in->file,
				 *val ? "not valid UTF-8" : "empty");
			explicit_bzero(val, len);
			free(val);
			return -1;
		}
		json_array_append_new(r->inject, json_pack("{s:s, s:s, s:s}", "domain", in->domain, "name", in->name,
							   "value", val));
		json_array_append_new(r->redact, json_pack("{s:s, s:s}", "name", in->name, "value", val));
		explicit_bzero(val, len);
		free(val);
	}
	return 0;
}

static json_t *argv_json(char *const *argv)
{
	json_t *a = json_array();

	for (size_t i = 0; argv[i]; i++) {
		char *e = escape_bytes(argv[i], strlen(argv[i]));

		json_array_append_new(a, json_string(e ? e : ""));
		free(e);
	}
	return a;
}

static int send_watch(struct run *r)
{
	const struct policy *p = r->o->p;
	char digest[72];
	json_t *req = NULL;
	int rc;

	/* the digest only goes into the record: --no-audit never computes it */
	if (policy_digest(p, digest) == 0)
		req = json_pack("{s:s, s:s, s:s, s:O, s:b, s:s, s:o, s:O, s:o}", "cmd", "watch", "cgroup", r->cg.v2,
				"mode", r->be->mode, "labels", p->labels, "keep", 0, "policy_digest", digest, "argv",
				argv_json(r->o->argv), "redact", r->redact, "network", netpolicy_to_json(&r->net));
	if (req && r->be->watch_fields)
		json_object_update_new(req, r->be->watch_fields(r->st));
	if (!req) {
		snprintf(r->err, sizeof(r->err), "watch request: out of memory");
		return -1;
	}
	if (p->network == POLICY_NET_PROXY) {
		json_t *d = json_array();

		for (size_t i = 0; i < p->ndomains; i++)
			json_array_append_new(d, json_string(p->domains[i]));
		json_object_set_new(json_object_get(req, "network"), "domains", d);
		/* --allow ADDR[/PREFIX][:PORT]: addresses the proxy lets through, as written */
		d = json_array();
		for (size_t i = 0; i < p->nallow; i++)
			json_array_append_new(d, json_string(p->allow[i]));
		json_object_set_new(json_object_get(req, "network"), "proxy_allow", d);
		if (p->inspect_tls) {
			json_object_set_new(json_object_get(req, "network"), "inspect", json_true());
			json_object_set_new(json_object_get(req, "network"), "ca", json_stringn(r->ca_pem, r->ca_len));
			json_object_set(json_object_get(req, "network"), "inject", r->inject);
		}
	}
	/* the only way in, recorded in session_start */
	if (p->npublish)
		json_object_set_new(req, "publish", policy_publish_json(p));
	/* what our child (the sandbox's init) does before CMD is setup, not the agent's */
	json_object_set_new(req, "setup_pid", json_integer(getpid()));
	/* sandtraild removes them, with the v2 one, should this process be lost */
	for (int i = 0; i < CGROUP_NCTL; i++) {
		json_t *v1 = json_object_get(req, "cgroups_v1");

		if (!r->cg.v1[i][0])
			continue;
		if (!v1)
			json_object_set_new(req, "cgroups_v1", v1 = json_array());
		json_array_append_new(v1, json_string(r->cg.v1[i]));
	}
	rc = control_send(r->ctl, req);
	json_decref(req);
	if (rc < 0) {
		snprintf(r->err, sizeof(r->err), "sandtraild: send watch: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

/* Waits until fd is readable, for at most ms: 0; -1 with r->err on the
 * deadline or when a stop signal came first (r->interrupted). */
static int wait_readable(struct run *r, int fd, int ms, const char *what)
{
	for (;;) {
		struct pollfd pf[2] = { { fd, POLLIN, 0 }, { r->sfd, POLLIN, 0 } };
		struct signalfd_siginfo si;
		int n = poll(pf, 2, ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(r->err, sizeof(r->err), "poll: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			snprintf(r->err, sizeof(r->err), "%s: no answer within %d ms", what, ms);
			return -1;
		}
		if (pf[0].revents)
			return 0;
		/* before CMD runs there is nobody to forward to: a stop ends the start */
		if (read(r->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && stops((int)si.ssi_signo)) {
			r->interrupted = (int)si.ssi_signo;
			snprintf(r->err, sizeof(r->err), "%s: interrupted by %s before the session started", what,
				 sigabbrev_np(r->interrupted) ? sigabbrev_np(r->interrupted) : "a signal");
			return -1;
		}
	}
}

static int recv_watch(struct run *r)
{
	json_t *rep = NULL;
	const char *id;
	int rc;

	if (wait_readable(r, r->ctl, control_deadline_ms(), "sandtraild did not acknowledge the session") < 0)
		return -1;
	rc = control_recv(r->ctl, &rep);
	if (rc < 0) {
		snprintf(r->err, sizeof(r->err), "sandtraild did not acknowledge the session: %s", strerror(-rc));
		return -1;
	}
	id = json_string_value(json_object_get(rep, "id"));
	if (!json_is_true(json_object_get(rep, "ok")) || !id) {
		const char *e = json_string_value(json_object_get(rep, "error"));

		snprintf(r->err, sizeof(r->err), "sandtraild refused the session: %s", e ? e : "no id in the reply");
		json_decref(rep);
		return -1;
	}
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->ack = rep;
	return 0;
}

static int proxy_attach(struct run *r)
{
	json_t *req = json_pack("{s:s, s:s}", "cmd", "proxy_attach", "id", r->id), *rep;
	char err[512];

	rep = control_call_fd(r->ctl, req, err, sizeof(err));
	json_decref(req);
	if (!rep) {
		snprintf(r->err, sizeof(r->err), "sandtraild: proxy_attach: %s", err);
		return -1;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		const char *e = json_string_value(json_object_get(rep, "error"));

		snprintf(r->err, sizeof(r->err), "%s", e ? e : "sandtraild refused the proxy");
		json_decref(rep);
		return -1;
	}
	json_decref(rep);
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* After a hand-over: asks the next collector for the session back.  0 done
 * (r->ctl is the new connection); -EAGAIN no collector answers yet; -1 it
 * refused (the session is not its any more). */
static int reattach(struct run *r)
{
	json_t *req = json_pack("{s:s, s:s}", "cmd", "reattach", "id", r->id), *rep = NULL;
	int fd = control_connect(r->o->socket), rc;

	if (fd < 0 || !req || control_send(fd, req) < 0 || control_recv(fd, &rep) < 0) {
		json_decref(req);
		if (fd >= 0)
			close(fd);
		return -EAGAIN;
	}
	json_decref(req);
	rc = json_is_true(json_object_get(rep, "ok")) ? 0 : -1;
	if (rc < 0) {
		fprintf(stderr, "sandtrail: the restarted sandtraild did not take session %s back: %s\n", r->id,
			json_string_value(json_object_get(rep, "error")) ?: "no reason given");
		close(fd);
	} else {
		r->ctl = fd;
	}
	json_decref(rep);
	return rc;
}

static bool is_handover(json_t *msg)
{
	return !strcmp(json_string_value(json_object_get(msg, "event")) ?: "", "handover");
}

/* After a hand-over at the session's end: the next collector, waited for
 * until the deadline.  0: r->ctl is the new connection. */
static int await_reattach(struct run *r)
{
	struct timespec ts = { 0, 100000000L };
	int rc;

	r->reattach_by = mono_ms() + CONTROL_HANDOVER_MS;
	while ((rc = reattach(r)) == -EAGAIN && mono_ms() < r->reattach_by)
		nanosleep(&ts, NULL);
	r->reattach_by = 0;
	return rc;
}

static void send_unwatch(struct run *r, const char *reason, int code, int sig, const struct cgroup_usage *u)
{
	json_t *req = json_pack("{s:s, s:s, s:s, s:i}", "cmd", "unwatch", "id", r->id, "reason", reason,
				"exit_status", code);
	char err[512];

	if (sig)
		json_object_set_new(req, "signal", json_integer(sig));
	if (u && u->has_memory_peak)
		json_object_set_new(req, "memory_peak", json_integer((json_int_t)u->memory_peak));
	if (u && u->has_pids_peak)
		json_object_set_new(req, "pids_peak", json_integer((json_int_t)u->pids_peak));
	if (u && u->has_cpu)
		json_object_set_new(req, "cpu_usec", json_integer((json_int_t)u->cpu_usec));
	for (;;) {
		json_t *msg = NULL;
		/* a collector handing over says so instead of answering (it went
		 * before reading the request, or before the request was sent) */
		int rc = control_send(r->ctl, req), rrc = control_recv(r->ctl, &msg);

		if (rrc == 0 && is_handover(msg)) {
			json_decref(msg);
			close(r->ctl);
			r->ctl = -1;
			fprintf(stderr, "sandtrail: sandtraild restarts: session %s waits for the next one to end it\n", r->id);
			if (await_reattach(r) == 0)
				continue;
			fprintf(stderr, "sandtrail: unwatch %s: no sandtraild took the session back\n", r->id);
			break;
		}
		if (rc || rrc)
			snprintf(err, sizeof(err), "control socket: %s", strerror(-(rc ? rc : rrc)));
		else
			snprintf(err, sizeof(err), "%s", json_string_value(json_object_get(msg, "error")) ?: "request failed");
		if (rc || rrc || !json_is_true(json_object_get(msg, "ok")))
			fprintf(stderr, "sandtrail: unwatch %s: %s\n", r->id, err);
		json_decref(msg);
		break;
	}
	json_decref(req);
}

/* A fresh allowlist resolution; sends it when the addresses changed. */
static void refresh_allowlist(struct run *r, int tfd)
{
	struct itimerspec its = { 0 };
	struct netpolicy fresh;
	uint32_t ttl = 0;
	char err[512];

	int rc = resolve_netpolicy(r->o->p, &fresh, &ttl, err, sizeof(err));

	fresh.abstract_unix = r->be->no_host_unix;
	if (rc < 0) {
		/* keep the addresses we have; try again in a while */
		fprintf(stderr, "sandtrail: re-resolving the allowlist: %s\n", err);
		ttl = r->ttl;
	} else if (fresh.n != r->net.n || memcmp(fresh.rules, r->net.rules, fresh.n * sizeof(fresh.rules[0]))) {
		json_t *req = json_pack("{s:s, s:s, s:o}", "cmd", "netpolicy", "id", r->id, "network",
					netpolicy_to_json(&fresh)), *rep = NULL;

		if (r->ctl >= 0)
			rep = control_call_fd(r->ctl, req, err, sizeof(err));
		json_decref(req);
		if (r->ctl >= 0 && !rep)
			fprintf(stderr, "sandtrail: allowlist update: %s\n", err);
		json_decref(rep);
		r->net = fresh;
	}
	r->ttl = ttl;
	its.it_value.tv_sec = ttl;
	if (ttl)
		timerfd_settime(tfd, 0, &its, NULL);
}

static void arm(int fd, uint64_t ms)
{
	struct itimerspec its = { .it_value = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 } };

	timerfd_settime(fd, 0, &its, NULL);
}

/* The collector went: the session dies with it, as it can no longer be recorded. */
static void lose_daemon(struct run *r)
{
	fprintf(stderr, "sandtrail: lost sandtraild: the session can no longer be recorded; killing it\n");
	if (r->ctl >= 0)
		close(r->ctl);
	r->ctl = -1;
	r->reattach_by = 0;
	r->lost_daemon = true;
	cgroup_kill(&r->cg);
}

static void loop(struct run *r, int sfd)
{
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int dfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int gfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC); /* grace after a stop signal */
	int rfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC); /* retries to reattach after a hand-over */
	bool grace = false, done = false;
	uint64_t ms = r->o->p->timeout_ms;

	if (ms && tfd >= 0) {
		struct itimerspec its = { .it_value = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 } };

		timerfd_settime(tfd, 0, &its, NULL);
	}
	if (r->ttl && dfd >= 0) {
		struct itimerspec its = { .it_value = { (time_t)r->ttl, 0 } };

		timerfd_settime(dfd, 0, &its, NULL);
	}
	/* the end of CMD waits for the session to be back with a collector,
	 * which writes its session_end */
	while (!done || r->reattach_by) {
		struct pollfd pf[7] = {
			{ done ? -1 : r->be->pidfd(r->st), POLLIN, 0 }, { sfd, POLLIN, 0 }, { tfd, POLLIN, 0 },
			{ dfd, POLLIN, 0 }, { r->ctl, POLLIN, 0 }, { gfd, POLLIN, 0 }, { rfd, POLLIN, 0 },
		};
		uint64_t ticks;

		if (poll(pf, 7, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents)
			done = true;
		if (pf[6].revents & POLLIN && read(rfd, &ticks, sizeof(ticks)) > 0 && r->reattach_by) {
			int rc = reattach(r);

			if (rc == 0) {
				r->reattach_by = 0;
				timerfd_settime(rfd, 0, &(struct itimerspec){ 0 }, NULL);
				fprintf(stderr, "sandtrail: session %s is recorded by the restarted sandtraild\n", r->id);
			} else if (rc < 0 && (rc != -EAGAIN || mono_ms() > r->reattach_by)) {
				lose_daemon(r);
			}
		}
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si = { 0 };

			/* the init passes it on to CMD's process group */
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				r->be->signal(r->st, (int)si.ssi_signo);
			if (stops((int)si.ssi_signo) && !grace && gfd >= 0) {
				grace = true;
				arm(gfd, r->o->stop_timeout_ms);
			}
		}
		if (pf[5].revents & POLLIN && read(gfd, &ticks, sizeof(ticks)) > 0) {
			fprintf(stderr, "sandtrail: the session did not end within %llu ms of the signal; killing it\n",
				(unsigned long long)r->o->stop_timeout_ms);
			cgroup_kill(&r->cg);
		}
		if (pf[2].revents & POLLIN && read(tfd, &ticks, sizeof(ticks)) > 0) {
			r->timed_out = true;
			cgroup_kill(&r->cg);
		}
		if (pf[3].revents & POLLIN && read(dfd, &ticks, sizeof(ticks)) > 0)
			refresh_allowlist(r, dfd);
		if (pf[4].revents) {
			json_t *msg = NULL;
			int rc = control_recv(r->ctl, &msg);
			bool handover = rc == 0 && is_handover(msg);

			json_decref(msg);
			/* sandtraild speaks only when asked, or to say it hands over:
			 * anything else means it is gone */
			if (handover && rfd >= 0) {
				struct itimerspec its = { .it_interval.tv_nsec = 100000000L, .it_value.tv_nsec = 100000000L };

				fprintf(stderr, "sandtrail: sandtraild restarts: session %s waits for the next one\n", r->id);
				close(r->ctl);
				r->ctl = -1;
				r->reattach_by = mono_ms() + CONTROL_HANDOVER_MS;
				timerfd_settime(rfd, 0, &its, NULL);
			} else if (rc != 0 || handover) {
				lose_daemon(r);
			}
		}
	}
	if (tfd >= 0)
		close(tfd);
	if (dfd >= 0)
		close(dfd);
	if (gfd >= 0)
		close(gfd);
	if (rfd >= 0)
		close(rfd);
}

static int write_id_file(const char *path, const char *id)
{
	FILE *f = fopen(path, "we");

	if (!f || fprintf(f, "%s\n", id) < 0 || fclose(f) != 0) {
		fprintf(stderr, "sandtrail: --id-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void cleanup(struct run *r)
{
	if (r->started)
		r->be->release(r->st);
	free(r->st);
	json_decref(r->ack);
	if (r->cg_made)
		cgroup_destroy(&r->cg);
	if (r->ctl >= 0)
		close(r->ctl);
	seccomp_profile_release(&r->seccomp);
	for (size_t i = 0; i < r->nenv; i++) {
		explicit_bzero(r->env[i], strlen(r->env[i]));
		free(r->env[i]);
	}
	json_decref(r->redact);
	json_decref(r->inject);
	if (r->ca_pem) {
		explicit_bzero(r->ca_pem, r->ca_len);
		free(r->ca_pem);
	}
	free(r->ca_bundle);
}

static int start(struct run *r)
{
	const struct policy *p = r->o->p;
	struct cgroup_limits lim = { .memory = p->memory, .cpus_milli = p->cpus_milli, .pids = p->pids };
	struct backend_spec spec;
	uint8_t rnd[8];
	char name[32];
	bool watch_sent = false;
	int rc;

	/* everything that can be refused is checked before anything exists */
	if (r->be->refuse && r->be->refuse(p, r->err, sizeof(r->err)) < 0)
		return -1;
	if (r->o->no_audit && (p->network == POLICY_NET_ALLOWLIST || p->network == POLICY_NET_PROXY)) {
		snprintf(r->err, sizeof(r->err), "--network %s is enforced by sandtraild's kernel programs%s: "
			 "it cannot run with --no-audit", p->network == POLICY_NET_PROXY ? "proxy" : "allowlist",
			 p->network == POLICY_NET_PROXY ? " and proxy" : "");
		return -1;
	}
	if (seccomp_profile_prepare(p->seccomp, p->caps_add, &r->seccomp, r->err, sizeof(r->err)) < 0)
		return -1;
	if (resolve_netpolicy(p, &r->net, &r->ttl, r->err, sizeof(r->err)) < 0)
		return -1;
	r->net.abstract_unix = r->be->no_host_unix;
	if (build_env(r) < 0)
		return -1;
	if (p->inspect_tls && inspect_setup(r) < 0)
		return -1;
	if (!r->o->no_audit) {
		r->ctl = control_connect(r->o->socket);
		if (r->ctl < 0) {
			snprintf(r->err, sizeof(r->err),
				 "cannot reach sandtraild at %s: %s (the session must be recorded; --no-audit runs it unrecorded)",
				 r->o->socket, strerror(-r->ctl));
			r->ctl = -1;
			return -1;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(r->err, sizeof(r->err), "getrandom: %s", strerror(errno));
		return -1;
	}
	snprintf(name, sizeof(name), "run-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
		 rnd[4], rnd[5], rnd[6], rnd[7]);
	if (cgroup_create(&r->cg, name, &lim, r->err, sizeof(r->err)) < 0)
		return -1;
	r->cg_made = true;
	/* sandtraild registers the cgroup while the child sets itself up */
	if (r->ctl >= 0) {
		if (send_watch(r) < 0)
			return -1;
		watch_sent = true;
	}
	spec = (struct backend_spec){ .p = p, .argv = r->o->argv, .envp = r->env, .seccomp = &r->seccomp,
				      .cgroup_fd = r->cg.v2_fd, .audited = r->ctl >= 0, .net = &r->net,
				      .ca_bundle = r->ca_bundle };
	rc = r->be->start(r->st, &spec, r->err, sizeof(r->err));
	r->started = rc == 0 || r->be->pid(r->st) > 0;
	if (rc == 0) {
		rc = cgroup_attach_parent(&r->cg, r->be->pid(r->st));
		if (rc < 0)
			snprintf(r->err, sizeof(r->err), "attach to the v1 cgroups: %s", strerror(-rc));
	}
	/* read while the child contains itself; it comes even when the child
	 * failed: the session must then be closed */
	if (watch_sent && recv_watch(r) < 0)
		return -1;
	/* the sandbox says when it is contained: never later than a deadline,
	 * nor past the caller's stop signal */
	if (rc == 0 && r->be->ready_fd && r->be->ready_fd(r->st) >= 0)
		rc = wait_readable(r, r->be->ready_fd(r->st), SETUP_DEADLINE_MS, "the sandbox's setup");
	if (rc == 0)
		rc = r->be->ready(r->st, r->ack, r->err, sizeof(r->err));
	/* the sandbox's network namespace exists and CMD has not run: the proxy's door in it */
	if (rc == 0 && watch_sent && p->network == POLICY_NET_PROXY)
		rc = proxy_attach(r);
	if (watch_sent && rc < 0)
		send_unwatch(r, "exit", MANAGER_START_FAILED, 0, NULL);
	return rc;
}

int manager_run(const struct manager_opts *o)
{
	struct run r = { .o = o, .ctl = -1, .sfd = -1, .be = o->backend };
	struct cgroup_usage u;
	const char *reason;
	sigset_t sigs, old;
	int sfd, status = 0, code, sig = 0;

	/* the caller's signals are queued for CMD from here on */
	sigemptyset(&sigs);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&sigs, forwarded[i]);
	sigprocmask(SIG_BLOCK, &sigs, &old);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	r.sfd = sfd;
	r.st = calloc(1, r.be->size);
	if (!r.st)
		snprintf(r.err, sizeof(r.err), "out of memory");
	if (sfd < 0 || !r.st || start(&r) < 0) {
		fprintf(stderr, "sandtrail: %s\n", sfd < 0 ? strerror(errno) : r.err);
		cleanup(&r);
		if (sfd >= 0)
			close(sfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* a stop signal before CMD ran: the status a shell expects of it */
		return r.interrupted ? 128 + r.interrupted : MANAGER_START_FAILED;
	}
	if (r.ctl >= 0) {
		fprintf(stderr, "sandtrail: session %s\n", r.id);
		if (o->id_file)
			write_id_file(o->id_file, r.id);
	} else {
		fprintf(stderr, "sandtrail: --no-audit: this session is not recorded\n");
	}
	r.be->go(r.st);
	loop(&r, sfd);
	close(sfd);
	if (r.be->wait(r.st, &status) < 0)
		status = W_EXITCODE(0, SIGKILL);
	/* whatever CMD left behind dies with it */
	cgroup_kill(&r.cg);
	cgroup_usage(&r.cg, &u);
	if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		code = 128 + sig;
	} else {
		code = WEXITSTATUS(status);
	}
	if (r.be->end_reason && r.be->end_reason(r.st))
		reason = r.be->end_reason(r.st);
	else if (r.timed_out)
		reason = "timeout";
	else if (u.oom && sig == SIGKILL)
		reason = "oom";
	else if (sig)
		reason = "signal";
	else
		reason = "exit";
	if (r.timed_out)
		fprintf(stderr, "sandtrail: session timed out after %llu ms\n", (unsigned long long)o->p->timeout_ms);
	else if (!strcmp(reason, "oom"))
		fprintf(stderr, "sandtrail: the session ran out of memory (OOM kill)\n");
	if (r.ctl >= 0)
		send_unwatch(&r, reason, code, sig, &u);
	cleanup(&r);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return code;
}
