/* Loads the probes without the collector, watches the cgroups named on the
 * command line and prints every event as one JSON line (strings escaped as
 * schemas/record.md says), then on SIGTERM/SIGINT drains and prints the
 * loss counters: {"type":"losses","open":{"ringbuf":N,"pending":N},...}.
 * "ready" goes to stderr once the cgroups are traced.
 *
 * probe_dump [--policy-stdin] [--parent PARENT] CGROUP... [--parent PARENT CGROUP...]
 *
 * --parent: the cgroups after it are watched with PARENT as the session
 * parent whose egress hooks serve every watched cgroup below it.
 *
 * --policy-stdin: each line read from stdin replaces the egress policy of
 * every cgroup: "open" (none), "deny [RULE...]" (only RULEs allowed); then
 * "applied" or "failed ERRNO" goes to stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>

#include "collector/collector.h"
#include "escape.h"
#include "collector/event.h"
#include "collector/probes.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void put_str(json_t *o, const char *key, const struct event_str *s)
{
	uint8_t path[ST_PATH_MAX + 8];
	char *esc;

	if (!s->present) {
		json_object_set_new(o, key, json_null());
		return;
	}
	if (s->components) {
		bool t;
		size_t n = event_path_join(s, path, sizeof(path), &t);

		esc = escape_bytes(path, n);
	} else {
		esc = escape_bytes(s->p, s->len);
	}
	json_object_set_new(o, key, json_string(esc ? esc : ""));
	free(esc);
}

static void put_argv(json_t *o, const struct event_str *s, uint32_t argc)
{
	json_t *a = json_array();
	uint32_t off = 0;

	for (uint32_t i = 0; i < argc && off <= s->len; i++) {
		size_t len = strnlen((const char *)s->p + off, s->len - off);
		char *esc = escape_bytes(s->p + off, len);

		json_array_append_new(a, json_string(esc ? esc : ""));
		free(esc);
		off += (uint32_t)len + 1;
	}
	json_object_set_new(o, "argv", a);
}

static void on_event(void *ctx, const void *data, size_t len)
{
	struct event ev;
	json_t *o;
	char *line, *comm;

	(void)ctx;
	if (event_decode(data, len, &ev) < 0) {
		printf("{\"type\":\"undecodable\",\"len\":%zu}\n", len);
		return;
	}
	comm = escape_bytes(ev.h->comm, strnlen(ev.h->comm, ST_COMM_LEN));
	o = json_pack("{s:s, s:I, s:I, s:i, s:i, s:i, s:i, s:s, s:i, s:s?}", "type", event_type_name(ev.h->type),
		      "cgroup", (json_int_t)ev.h->cgroup_id, "session", (json_int_t)ev.h->session_cgid, "pid",
		      (int)ev.h->tgid, "tid", (int)ev.h->tid, "ppid", (int)ev.h->ppid, "uid", (int)ev.h->uid, "comm",
		      comm ? comm : "", "flags", (int)ev.h->flags, "syscall", event_syscall_name(ev.h->syscall));
	free(comm);
	switch (ev.h->type) {
	case ST_EV_EXEC: {
		const struct st_exec *x = ev.body;

		put_str(o, "filename", &ev.str[0]);
		put_argv(o, &ev.str[1], x->argc);
		if (ev.str[2].len)
			put_str(o, "exe", &ev.str[2]);
		json_object_set_new(o, "ret", json_integer(x->ret));
		break;
	}
	case ST_EV_FORK:
		json_object_set_new(o, "child", json_integer(((const struct st_fork *)ev.body)->child_tgid));
		break;
	case ST_EV_EXIT:
		json_object_set_new(o, "status", json_integer(((const struct st_exit *)ev.body)->status));
		break;
	case ST_EV_OPEN: {
		const struct st_open *x = ev.body;

		put_str(o, "requested", &ev.str[0]);
		if (ev.str[1].len)
			put_str(o, "path", &ev.str[1]);
		json_object_set_new(o, "oflags", json_integer((json_int_t)x->flags));
		json_object_set_new(o, "mode", json_integer(x->mode));
		json_object_set_new(o, "dirfd", json_integer(x->dirfd));
		json_object_set_new(o, "ret", json_integer(x->ret));
		break;
	}
	case ST_EV_UNLINK: {
		const struct st_unlink *x = ev.body;

		put_str(o, "path", &ev.str[0]);
		json_object_set_new(o, "uflags", json_integer(x->flags));
		json_object_set_new(o, "ret", json_integer(x->ret));
		break;
	}
	case ST_EV_RENAME: {
		const struct st_rename *x = ev.body;

		put_str(o, "from", &ev.str[0]);
		put_str(o, "to", &ev.str[1]);
		json_object_set_new(o, "rflags", json_integer(x->flags));
		json_object_set_new(o, "ret", json_integer(x->ret));
		break;
	}
	case ST_EV_CONNECT: {
		const struct st_connect *x = ev.body;
		char addr[INET6_ADDRSTRLEN] = "";

		json_object_set_new(o, "family", json_integer(x->family));
		if (x->family == AF_INET || x->family == AF_INET6) {
			inet_ntop(x->family, x->addr, addr, sizeof(addr));
			json_object_set_new(o, "addr", json_string(addr));
		} else {
			put_str(o, "addr", &ev.str[0]);
		}
		json_object_set_new(o, "port", json_integer(x->port));
		json_object_set_new(o, "source", json_integer(x->source));
		json_object_set_new(o, "verdict", json_string(x->verdict == ST_VERDICT_DENY ? "deny" : "allow"));
		json_object_set_new(o, "fd", json_integer(x->fd));
		json_object_set_new(o, "ret", json_integer(x->ret));
		break;
	}
	}
	line = json_dumps(o, JSON_COMPACT);
	if (line)
		puts(line);
	free(line);
	json_decref(o);
}

/* The losses of all the watched cgroups together. */
static void print_losses(struct probes *p, const uint64_t *ids, size_t n)
{
	static const char *const reasons[ST_LOSS_MAX] = { "ringbuf", "pending" };
	uint64_t lost[ST_EV_MAX][ST_LOSS_MAX] = { { 0 } }, one[ST_EV_MAX][ST_LOSS_MAX];
	json_t *o = json_pack("{s:s}", "type", "losses");
	char *line;

	for (size_t i = 0; i < n; i++) {
		if (probes_losses(p, ids[i], one) < 0)
			return;
		for (int t = 0; t < ST_EV_MAX; t++)
			for (int r = 0; r < ST_LOSS_MAX; r++)
				lost[t][r] += one[t][r];
	}
	for (int t = 1; t < ST_EV_MAX; t++) {
		json_t *k = json_object();

		for (int r = 0; r < ST_LOSS_MAX; r++)
			json_object_set_new(k, reasons[r], json_integer((json_int_t)lost[t][r]));
		json_object_set_new(o, event_type_name((uint32_t)t), k);
	}
	line = json_dumps(o, JSON_COMPACT);
	puts(line);
	free(line);
	json_decref(o);
}

/* One line of --policy-stdin applied to the n watched cgroups. */
static void apply_line(struct probes *p, const uint64_t *ids, int n, char *line)
{
	static struct netpolicy pol;
	char *tok = strtok(line, " \n"), err[256];
	int rc = 0;

	memset(&pol, 0, sizeof(pol));
	pol.enforce = tok && !strcmp(tok, "deny");
	while (pol.enforce && (tok = strtok(NULL, " \n")) && pol.n < NETPOLICY_RULES_MAX)
		if (netpolicy_parse_rule(tok, &pol.rules[pol.n++], err, sizeof(err)) < 0)
			rc = -EINVAL;
	for (int i = 0; i < n && !rc; i++)
		rc = probes_set_netpolicy(p, ids[i], pol.enforce ? &pol : NULL);
	if (rc)
		fprintf(stderr, "failed %d\n", -rc);
	else
		fprintf(stderr, "applied\n");
}

int main(int argc, char **argv)
{
	struct probes *p;
	struct pollfd pfd[2];
	uint64_t ids[16], parent_id = 0;
	int n = 0, i, rc, npfd = 1, parent_fd = -1;
	bool policy_stdin = false;

	rc = probes_open(&p, NULL, on_event, NULL);
	if (rc < 0) {
		fprintf(stderr, "probe_dump: probes_open: %s\n", strerror(-rc));
		return 1;
	}
	for (i = 1; i < argc; i++) {
		char err[512];
		int fd;

		if (!strcmp(argv[i], "--policy-stdin")) {
			policy_stdin = true;
			continue;
		}
		if (!strcmp(argv[i], "--parent") && i + 1 < argc) {
			if (parent_fd >= 0)
				close(parent_fd);
			if (cgroup2_open(argv[++i], &parent_fd, &parent_id, err, sizeof(err)) < 0) {
				fprintf(stderr, "probe_dump: %s\n", err);
				return 1;
			}
			continue;
		}
		if (argv[i][0] == '-' || n == 16) {
			fprintf(stderr, "usage: probe_dump [--policy-stdin] [--parent PARENT] CGROUP... "
					"[--parent PARENT CGROUP...] (16 cgroups at most)\n");
			return 2;
		}
		if (cgroup2_open(argv[i], &fd, &ids[n], err, sizeof(err)) < 0) {
			fprintf(stderr, "probe_dump: %s\n", err);
			return 1;
		}
		rc = probes_watch(p, fd, ids[n], parent_fd, parent_id);
		close(fd);
		if (rc < 0) {
			fprintf(stderr, "probe_dump: watch %s: %s\n", argv[i], strerror(-rc));
			return 1;
		}
		n++;
	}
	if (parent_fd >= 0)
		close(parent_fd);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	fprintf(stderr, "ready\n");
	pfd[0] = (struct pollfd){ .fd = probes_fd(p), .events = POLLIN };
	if (policy_stdin)
		pfd[npfd++] = (struct pollfd){ .fd = 0, .events = POLLIN };
	while (!stop) {
		if (poll(pfd, (nfds_t)npfd, 100) <= 0)
			continue;
		if (pfd[0].revents && (rc = probes_consume(p)) < 0) {
			fprintf(stderr, "probe_dump: probes_consume: %s\n", strerror(-rc));
			return 1;
		}
		if (npfd > 1 && pfd[1].revents) {
			char line[4096];

			if (!fgets(line, sizeof(line), stdin))
				npfd = 1;
			else
				apply_line(p, ids, n, line);
		}
	}
	while (probes_consume(p) > 0)
		;
	print_losses(p, ids, n);
	for (i = 0; i < n; i++)
		probes_unwatch(p, ids[i], NULL);
	probes_close(p, false);
	return 0;
}
