#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <linux/magic.h>
#include <linux/membarrier.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "probes.h"
#include "sandtrail.skel.h"

#define TRACEFS      "/sys/kernel/tracing"
#define DEBUGFS_TR   "/sys/kernel/debug/tracing"
#define TP_MAX       256
#define TP_PATH_MAX  160
#define RINGBUF_DEFAULT (16u << 20)
#define WAKEUP_MAX   (256u << 10) /* waiting bytes that wake the collector at once */
#define FETCH_MS     10           /* otherwise events wait at most this long */

/* The cgroup hooks: attached to a watched cgroup, or once to a session
 * parent for every session below it. */
enum { HOOK_CONNECT4, HOOK_CONNECT6, HOOK_SENDMSG4, HOOK_SENDMSG6, HOOK_CONNECT_UNIX, HOOK_SENDMSG_UNIX, HOOK_SOCKOPS,
       HOOK_MAX };

/* A cgroup and its ancestors, as the kernel sees them. */
struct lineage {
	uint64_t id[ST_LEVELS + 1]; /* id[0]: the cgroup, then its parent, ... */
	unsigned n;
	unsigned level; /* of id[0] */
};

/* Hooks on a session parent, kept while the daemon runs (attaching and
 * detaching them per session cost ~0.8 ms of each session's start and end). */
struct shared {
	struct lineage cg;
	struct bpf_link *hooks[HOOK_MAX];
	unsigned watches; /* sessions at or below it */
};

struct watch {
	uint64_t id;
	struct lineage cg;
	struct st_watch val;
	struct bpf_link *hooks[HOOK_MAX]; /* none when a shared parent's serve it */
	uint64_t shared;                  /* that parent's id, 0: own hooks */
	struct netpolicy_rule *rules;     /* in the kernel under val.gen */
	uint32_t nrules;
	bool adopted;                     /* rules set by an earlier collector: found in the map */
};

struct probes {
	struct sandtrail_bpf *skel;
	struct ring_buffer *rb;
	int epfd, timerfd; /* probes_fd: the ring buffer or the fetch timer */
	probes_event_fn fn;
	void *ctx;
	struct bpf_link *links[TP_MAX];
	size_t nlinks;
	unsigned level_refs[ST_LEVELS];
	uint8_t slot_used[ST_WATCH_MAX];
	struct watch *watches;
	size_t nwatches, capwatches;
	struct shared *shared;
	size_t nshared;
	uint64_t shared_current; /* the latest session parent given to probes_watch */
	char pin_dir[4096];      /* "": nothing pinned */
	int pin_fd;              /* pin_dir, flock'd: one collector at a time */
	uint32_t loader;         /* this load's loader_id */
	bool inherited, keep;
	int state_fd;            /* sessions' states, pinned beside the maps */
	unsigned pins;           /* links pinned so far: their names */
	void *held;              /* the sample read last, its ring space released */
	size_t held_len, held_cap;
	bool holding;
};

static void notice(const struct probes_config *cfg, const char *msg)
{
	if (cfg && cfg->notice)
		cfg->notice(msg);
	else
		fprintf(stderr, "sandtraild: %s\n", msg);
}

/* Hands the held sample on; libbpf released its ring space before it
 * called on_sample again (or ring_buffer__consume returned). */
static void deliver_held(struct probes *p)
{
	if (!p->holding)
		return;
	p->holding = false;
	p->fn(p->ctx, p->held, p->held_len);
}

/* Each sample goes on one step late, from a copy: the collector may write
 * the journal while it takes a sample, and a collector killed right after
 * such a write must not leave that sample in the ring for the next one to
 * record again.  Out of memory, it goes on at once: rather twice than never. */
static int on_sample(void *ctx, void *data, size_t len)
{
	struct probes *p = ctx;

	deliver_held(p);
	if (len > p->held_cap) {
		void *b = realloc(p->held, len);

		if (!b) {
			p->fn(p->ctx, data, len);
			return 0;
		}
		p->held = b;
		p->held_cap = len;
	}
	memcpy(p->held, data, len);
	p->held_len = len;
	p->holding = true;
	return 0;
}

/* Reads a tracepoint id file: a decimal number and a newline.  Only
 * async-signal-safe calls: it also runs in the child of fork. */
static long read_id(const char *path)
{
	char buf[32];
	long id = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		id = id * 10 + (buf[i] - '0');
	return id > 0 ? id : -EINVAL;
}

/* Child of probes_tp_ids: tracefs in a mount namespace of its own, made a
 * slave first so that nothing it mounts reaches the host. */
static void tp_ids_child(int wfd, char paths[][TP_PATH_MAX], size_t n)
{
	long ids[TP_MAX];

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount("tracefs", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		ids[0] = -errno;
		n = 1;
	} else {
		for (size_t i = 0; i < n; i++)
			ids[i] = read_id(paths[i]);
	}
	if (write(wfd, ids, n * sizeof(ids[0])) < 0)
		_exit(1);
	_exit(0);
}

/* The ids of tracepoints "category/name", from tracefs where it is
 * mounted, else from a child that mounts it privately: the collector's
 * own mount namespace stays as it is. */
static int tp_ids(const char *names[], size_t n, long ids[])
{
	static const char *const roots[] = { TRACEFS, DEBUGFS_TR };
	char paths[TP_MAX][TP_PATH_MAX];
	int pfd[2], status;
	ssize_t got;
	pid_t pid;

	for (size_t r = 0; r < 2; r++) {
		char events[64];

		snprintf(events, sizeof(events), "%s/events", roots[r]);
		if (access(events, F_OK) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			snprintf(paths[i], TP_PATH_MAX, "%s/events/%s/id", roots[r], names[i]);
			ids[i] = read_id(paths[i]);
			if (ids[i] < 0)
				return (int)ids[i];
		}
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(paths[i], TP_PATH_MAX, "%s/events/%s/id", TRACEFS, names[i]);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int rc = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return rc;
	}
	if (pid == 0) {
		close(pfd[0]);
		tp_ids_child(pfd[1], paths, n);
	}
	close(pfd[1]);
	got = read(pfd[0], ids, n * sizeof(ids[0]));
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got >= (ssize_t)sizeof(ids[0]) && ids[0] < 0) /* the child's mount failed */
		return (int)ids[0];
	if (got != (ssize_t)(n * sizeof(ids[0])))
		return -EIO;
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0)
			return (int)ids[i];
	return 0;
}

/* As libbpf attaches a tracepoint once it knows the id. */
static struct bpf_link *attach_tp(struct bpf_program *prog, long id)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(attr),
		.config = (uint64_t)id,
		.sample_period = 1,
		.wakeup_events = 1,
	};
	struct bpf_link *link;
	int pfd = (int)syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	if (pfd < 0)
		return NULL;
	link = bpf_program__attach_perf_event(prog, pfd);
	if (!link) {
		int e = errno;

		close(pfd);
		errno = e;
	}
	return link;
}

/* Pins a link of this load as L<loader>-<n>: it stays attached after the
 * collector is gone, until the next one takes over. */
static int pin_link(struct probes *p, struct bpf_link *link)
{
	char path[4200];

	if (!p->pin_dir[0])
		return 0;
	snprintf(path, sizeof(path), "%s/L%08x-%u", p->pin_dir, p->loader, p->pins++);
	return bpf_link__pin(link, path);
}

/* Detaches a link: unpinned first, unless the kernel side is kept. */
static void drop_link(struct probes *p, struct bpf_link *link)
{
	if (link && !p->keep && bpf_link__pin_path(link))
		bpf_link__unpin(link);
	bpf_link__destroy(link);
}

static int add_link(struct probes *p, struct bpf_link *link)
{
	if (!link)
		return errno ? -errno : -EINVAL;
	if (p->nlinks == TP_MAX || pin_link(p, link)) {
		bpf_link__destroy(link);
		return p->nlinks == TP_MAX ? -E2BIG : -errno;
	}
	p->links[p->nlinks++] = link;
	return 0;
}

/* tracepoint/ programs through perf events (ids resolved above), tp_btf/
 * ones by libbpf; cgroup and iter programs are attached per cgroup. */
static int attach_all(struct probes *p)
{
	struct bpf_program *prog, *tps[TP_MAX];
	const char *names[TP_MAX];
	long ids[TP_MAX];
	size_t ntp = 0;
	int rc;

	bpf_object__for_each_program(prog, p->skel->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!strncmp(sec, "tracepoint/", 11)) {
			if (ntp == TP_MAX)
				return -E2BIG;
			tps[ntp] = prog;
			names[ntp++] = sec + 11;
		} else if (!strncmp(sec, "tp_btf/", 7)) {
			rc = add_link(p, bpf_program__attach(prog));
			if (rc)
				return rc;
		}
	}
	rc = tp_ids(names, ntp, ids);
	if (rc)
		return rc;
	for (size_t i = 0; i < ntp; i++) {
		rc = add_link(p, attach_tp(tps[i], ids[i]));
		if (rc)
			return rc;
	}
	return 0;
}

/* An attach type by its name in this kernel's BTF, -1 if it has none. */
static int attach_type(struct btf *btf, const char *name)
{
	int id = btf ? btf__find_by_name_kind(btf, "bpf_attach_type", BTF_KIND_ENUM) : -1;
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;

	for (int i = 0; t && i < btf_vlen(t); i++) {
		const struct btf_enum *e = btf_enum(t) + i;

		if (!strcmp(btf__name_by_offset(btf, e->name_off), name))
			return (int)e->val;
	}
	return -1;
}

/* The unix socket hooks (6.7+) by number, as libbpf 1.1 has no section
 * names for them; without them, abstract sockets are recorded, not denied. */
static void set_unix_hooks(struct probes *p, const struct probes_config *cfg)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int connect = attach_type(btf, "BPF_CGROUP_UNIX_CONNECT"), sendmsg = attach_type(btf, "BPF_CGROUP_UNIX_SENDMSG");

	btf__free(btf);
	if (connect >= 0 && sendmsg >= 0) {
		bpf_program__set_expected_attach_type(p->skel->progs.connect_unix, (enum bpf_attach_type)connect);
		bpf_program__set_expected_attach_type(p->skel->progs.sendmsg_unix, (enum bpf_attach_type)sendmsg);
		return;
	}
	bpf_program__set_autoload(p->skel->progs.connect_unix, false);
	bpf_program__set_autoload(p->skel->progs.sendmsg_unix, false);
	notice(cfg, "notice: this kernel has no cgroup hooks for unix sockets (6.7+): "
		    "abstract unix sockets are recorded but not denied");
}

/* One fd for the collector's loop: readable when the kernel woke the ring
 * buffer (enough data waits) or when the fetch timer ticked. */
static int setup_fd(struct probes *p)
{
	struct itimerspec its = { .it_interval.tv_nsec = FETCH_MS * 1000000L, .it_value.tv_nsec = FETCH_MS * 1000000L };
	struct epoll_event ee = { .events = EPOLLIN };

	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->epfd < 0 || p->timerfd < 0 || timerfd_settime(p->timerfd, 0, &its, NULL) < 0 ||
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->timerfd, &ee) < 0 ||
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(p->rb), &ee) < 0)
		return -errno;
	return 0;
}

/* Every map but the constants is pinned as <pin_dir>/<name>: libbpf reuses
 * what an earlier collector pinned there (the ring buffer with what it kept,
 * the watched cgroups, their policies and loss counts), else pins new ones. */
static int set_pins(struct probes *p)
{
	struct bpf_map *m;
	char path[4200];

	bpf_object__for_each_map(m, p->skel->obj) {
		const char *name = bpf_map__name(m);

		if (strstr(name, ".rodata") || strstr(name, ".kconfig"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->pin_dir, name);
		for (char *d = path + strlen(p->pin_dir); *d; d++) /* bpffs refuses dots in names */
			if (*d == '.')
				*d = '_';
		if (bpf_map__set_pin_path(m, path))
			return -errno;
	}
	return 0;
}

/* Removes every pin of the directory (an earlier kernel side that this
 * build cannot share, or a clean shutdown). */
static void clear_pins(struct probes *p)
{
	DIR *d;
	struct dirent *e;
	int fd = openat(p->pin_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* an offset of its own */

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(p->pin_fd, e->d_name, 0);
	closedir(d);
}

/* The pin directory, made on a bpffs and locked for this collector. */
static int open_pin_dir(struct probes *p, const char *dir)
{
	struct statfs fs;
	char parent[4096];
	char *slash;

	if (snprintf(p->pin_dir, sizeof(p->pin_dir), "%s", dir) >= (int)sizeof(p->pin_dir))
		return -ENAMETOOLONG;
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = 0;
	if (statfs(parent, &fs) < 0)
		return -errno;
	if (fs.f_type != BPF_FS_MAGIC)
		return -ENOTSUP;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	p->pin_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->pin_fd < 0)
		return -errno;
	if (flock(p->pin_fd, LOCK_EX | LOCK_NB) < 0) { /* another collector's: never touched */
		int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(p->pin_fd);
		p->pin_fd = -1;
		return rc;
	}
	p->inherited = faccessat(p->pin_fd, "events", F_OK, 0) == 0;
	return 0;
}

/* The sessions' states: a map of the collector's own, pinned beside the
 * programs' maps (kernel memory: gone with the pins, never on a disk). */
static int open_state(struct probes *p)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	char path[4200];

	snprintf(path, sizeof(path), "%s/sessions", p->pin_dir);
	p->state_fd = bpf_obj_get(path);
	if (p->state_fd >= 0)
		return 0;
	p->state_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "st_sessions", sizeof(uint64_t), PROBES_STATE_MAX,
				     ST_WATCH_MAX, &o);
	if (p->state_fd < 0 || bpf_obj_pin(p->state_fd, path) < 0)
		return -errno;
	return 0;
}

static int load(struct probes *p, const struct probes_config *cfg)
{
	uint32_t rb = cfg ? cfg->ringbuf_bytes : 0;
	int rc;

	p->skel = sandtrail_bpf__open();
	if (!p->skel)
		return errno ? -errno : -EINVAL;
	if (cfg && cfg->pending_max) {
		struct bpf_map *pend[] = { p->skel->maps.pend_exec, p->skel->maps.pend_open, p->skel->maps.pend_unlink,
					   p->skel->maps.pend_rename, p->skel->maps.pend_connect };

		for (size_t i = 0; i < sizeof(pend) / sizeof(pend[0]); i++)
			bpf_map__set_max_entries(pend[i], cfg->pending_max);
	}
	if (rb)
		bpf_map__set_max_entries(p->skel->maps.events, rb);
	else
		rb = RINGBUF_DEFAULT;
	p->skel->rodata->wakeup_bytes = rb / 4 < WAKEUP_MAX ? rb / 4 : WAKEUP_MAX;
	p->skel->rodata->loader_id = p->loader;
	set_unix_hooks(p, cfg);
	if (p->pin_dir[0] && (rc = set_pins(p)) < 0)
		return rc;
	rc = sandtrail_bpf__load(p->skel);
	if (rc)
		return rc < 0 ? rc : -EINVAL;
	/* a fresh kernel side records at once; an inherited one once taken over */
	if (!p->inherited)
		p->skel->bss->active_loader = p->loader;
	return 0;
}

int probes_open(struct probes **out, const struct probes_config *cfg, probes_event_fn fn, void *ctx)
{
	uint32_t rb = cfg ? cfg->ringbuf_bytes : 0;
	long page = sysconf(_SC_PAGESIZE);
	struct probes *p;
	int rc;

	*out = NULL;
	if (rb && ((rb & (rb - 1)) || rb < (uint32_t)page))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->epfd = p->timerfd = p->pin_fd = p->state_fd = -1;
	p->fn = fn;
	p->ctx = ctx;
	if (cfg && cfg->pin_dir) {
		rc = open_pin_dir(p, cfg->pin_dir);
		if (rc)
			goto fail;
		do /* nonzero: 0 is the word of a kernel side that pins nothing */
			rc = getrandom(&p->loader, sizeof(p->loader), 0) == sizeof(p->loader) ? 0 : -EIO;
		while (rc == 0 && !p->loader);
		if (rc)
			goto fail;
	}
	rc = load(p, cfg);
	if (rc && p->inherited) {
		char msg[4400];

		snprintf(msg, sizeof(msg), "the kernel side pinned in %s does not fit this build (%s): "
			 "starting afresh; the sessions it traced end", p->pin_dir, strerror(-rc));
		notice(cfg, msg);
		sandtrail_bpf__destroy(p->skel);
		clear_pins(p);
		p->inherited = false;
		rc = load(p, cfg);
	}
	if (rc)
		goto fail;
	if (p->pin_dir[0] && (rc = open_state(p)) < 0)
		goto fail;
	rc = attach_all(p);
	if (rc)
		goto fail;
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_sample, p, NULL);
	if (!p->rb) {
		rc = errno ? -errno : -ENOMEM;
		goto fail;
	}
	rc = setup_fd(p);
	if (rc)
		goto fail;
	*out = p;
	return 0;
fail:
	p->keep = p->inherited; /* an earlier kernel side is left as it was */
	probes_close(p, p->keep);
	return rc < 0 ? rc : -EINVAL;
}

bool probes_inherited(const struct probes *p)
{
	return p->inherited;
}

int probes_fd(struct probes *p)
{
	return p->epfd;
}

int probes_proxy_map_fd(struct probes *p)
{
	return bpf_map__fd(p->skel->maps.proxy_dst);
}

int probes_consume(struct probes *p)
{
	uint64_t ticks;
	int n;

	if (read(p->timerfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -errno;
	n = ring_buffer__consume(p->rb);
	deliver_held(p);
	return n;
}

static struct watch *find_watch(struct probes *p, uint64_t id)
{
	for (size_t i = 0; i < p->nwatches; i++)
		if (p->watches[i].id == id)
			return &p->watches[i];
	return NULL;
}

/* The cgroup's id, level and ancestors as the kernel sees them (iter/cgroup
 * walking up from it: one (id, level) pair per cgroup). */
static int cgroup_lineage(struct probes *p, int cgroup_fd, struct lineage *out)
{
	union bpf_iter_link_info li = { .cgroup = { .cgroup_fd = (uint32_t)cgroup_fd, .order = BPF_CGROUP_ITER_ANCESTORS_UP } };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &li, .link_info_len = sizeof(li));
	struct bpf_link *link = bpf_program__attach_iter(p->skel->progs.cgroup_level, &opts);
	uint64_t pairs[2 * (ST_LEVELS + 2)];
	size_t got = 0;
	ssize_t n;
	int fd, rc = 0;

	if (!link)
		return errno ? -errno : -EINVAL;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	while (got < sizeof(pairs) && (n = read(fd, (char *)pairs + got, sizeof(pairs) - got)) > 0)
		got += (size_t)n;
	if (n < 0)
		rc = -errno;
	else if (got < 2 * sizeof(uint64_t) || got % (2 * sizeof(uint64_t)))
		rc = -EIO;
	else if (pairs[1] >= ST_LEVELS)
		rc = -E2BIG;
	close(fd);
	if (rc == 0) {
		out->n = (unsigned)(got / (2 * sizeof(uint64_t)));
		out->level = (unsigned)pairs[1];
		for (unsigned i = 0; i < out->n; i++)
			out->id[i] = pairs[2 * i];
	}
out:
	bpf_link__destroy(link);
	return rc;
}

static bool lineage_has(const struct lineage *l, uint64_t id)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->id[i] == id)
			return true;
	return false;
}

static void detach_hooks(struct probes *p, struct bpf_link *hooks[HOOK_MAX])
{
	for (int i = 0; i < HOOK_MAX; i++) {
		drop_link(p, hooks[i]);
		hooks[i] = NULL;
	}
}

static int attach_hooks(struct probes *p, struct bpf_link *hooks[HOOK_MAX], int cgroup_fd)
{
	struct bpf_program *progs[HOOK_MAX] = {
		[HOOK_CONNECT4] = p->skel->progs.connect4,
		[HOOK_CONNECT6] = p->skel->progs.connect6,
		[HOOK_SENDMSG4] = p->skel->progs.sendmsg4,
		[HOOK_SENDMSG6] = p->skel->progs.sendmsg6,
		[HOOK_CONNECT_UNIX] = p->skel->progs.connect_unix,
		[HOOK_SENDMSG_UNIX] = p->skel->progs.sendmsg_unix,
		[HOOK_SOCKOPS] = p->skel->progs.proxy_sockops,
	};

	for (int i = 0; i < HOOK_MAX; i++) {
		if (bpf_program__fd(progs[i]) < 0) /* not loaded on this kernel */
			continue;
		hooks[i] = bpf_program__attach_cgroup(progs[i], cgroup_fd);
		if (!hooks[i] || pin_link(p, hooks[i])) {
			int rc = errno ? -errno : -EINVAL;

			detach_hooks(p, hooks);
			return rc;
		}
	}
	return 0;
}

/* Called after every change of the watched map, before the change is
 * acknowledged: the levels to look at, and a new generation that voids
 * every verdict the kernel side cached (cgroups found outside sessions). */
static void set_levels(struct probes *p)
{
	uint32_t levels = 0;

	for (unsigned i = 0; i < ST_LEVELS; i++)
		if (p->level_refs[i])
			levels |= 1u << i;
	__atomic_store_n(&p->skel->bss->watched_levels, levels, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&p->skel->bss->watch_gen, 1, __ATOMIC_SEQ_CST);
}

/* Sums one loss slot's per-CPU counters; zero: resets them instead.  One
 * batch syscall for the slot's ST_EV_MAX counters, not one per type. */
static int slot_losses(struct probes *p, uint32_t slot, uint64_t lost[ST_EV_MAX][ST_LOSS_MAX], bool zero)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(p->skel->maps.losses);
	uint32_t keys[ST_EV_MAX], prev = slot * ST_EV_MAX - 1, next, count = ST_EV_MAX;
	struct st_loss_counts *vals;
	int rc = 0;

	if (lost)
		memset(lost, 0, sizeof(uint64_t) * ST_EV_MAX * ST_LOSS_MAX);
	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu * ST_EV_MAX, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t t = 0; t < ST_EV_MAX; t++)
		keys[t] = slot * ST_EV_MAX + t;
	if (zero)
		rc = bpf_map_update_batch(fd, keys, vals, &count, NULL);
	else /* an array batch starts after the key given, or at 0 without one */
		rc = bpf_map_lookup_batch(fd, slot ? &prev : NULL, &next, keys, vals, &count, NULL);
	if (rc == 0 && count != ST_EV_MAX)
		rc = -EIO;
	for (uint32_t t = 0; rc == 0 && !zero && t < ST_EV_MAX; t++) {
		if (keys[t] != slot * ST_EV_MAX + t) {
			rc = -EIO;
			break;
		}
		for (int c = 0; c < ncpu; c++)
			for (int r = 0; r < ST_LOSS_MAX; r++)
				lost[t][r] += vals[t * (uint32_t)ncpu + (uint32_t)c].lost[r];
	}
	free(vals);
	return rc < 0 ? rc : 0;
}

/* A free slot of loss counters, zeroed for its new session. */
static int alloc_slot(struct probes *p, uint16_t *slot)
{
	for (uint32_t i = 0; i < ST_WATCH_MAX; i++) {
		if (p->slot_used[i])
			continue;
		int rc = slot_losses(p, i, NULL, true);

		if (rc)
			return rc;
		p->slot_used[i] = 1;
		*slot = (uint16_t)i;
		return 0;
	}
	return -ENOSPC;
}

static struct shared *find_shared(struct probes *p, uint64_t id)
{
	for (size_t i = 0; i < p->nshared; i++)
		if (p->shared[i].cg.id[0] == id)
			return &p->shared[i];
	return NULL;
}

/* Detaches the shared hooks no session uses, but for the current parent's
 * (or, with below, only those on a cgroup below below). */
static void drop_unused_shared(struct probes *p, uint64_t below)
{
	size_t k = 0;

	for (size_t i = 0; i < p->nshared; i++) {
		struct shared *sh = &p->shared[i];
		bool drop = !sh->watches && (below ? lineage_has(&sh->cg, below) : sh->cg.id[0] != p->shared_current);

		if (drop) {
			if (sh->cg.id[0] == p->shared_current)
				p->shared_current = 0;
			detach_hooks(p, sh->hooks);
			continue;
		}
		p->shared[k++] = *sh;
	}
	p->nshared = k;
}

/* Attaches the hooks to a session parent for good; -EBUSY while a session
 * below it has hooks of its own (they would run twice there). */
static int add_shared(struct probes *p, int parent_fd, uint64_t parent_id)
{
	struct shared *sh;
	int rc;

	for (size_t i = 0; i < p->nwatches; i++)
		if (!p->watches[i].shared && lineage_has(&p->watches[i].cg, parent_id))
			return -EBUSY;
	sh = realloc(p->shared, (p->nshared + 1) * sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	p->shared = sh;
	sh = &p->shared[p->nshared];
	memset(sh, 0, sizeof(*sh));
	rc = cgroup_lineage(p, parent_fd, &sh->cg);
	if (rc == 0 && sh->cg.id[0] != parent_id)
		rc = -EINVAL;
	if (rc == 0)
		rc = attach_hooks(p, sh->hooks, parent_fd);
	if (rc == 0)
		p->nshared++;
	return rc;
}

/* The shared hooks that serve a cgroup of lineage l: those of the session
 * parent (attached now if need be) or of an earlier one when it is an
 * ancestor, else NULL: the cgroup gets hooks of its own. */
static int shared_for(struct probes *p, const struct lineage *l, int parent_fd, uint64_t parent_id,
		      struct shared **out)
{
	int rc;

	*out = NULL;
	if (parent_fd >= 0 && lineage_has(l, parent_id)) {
		rc = find_shared(p, parent_id) ? 0 : add_shared(p, parent_fd, parent_id);
		if (rc)
			return rc;
		p->shared_current = parent_id;
	}
	/* an earlier parent (renamed while sessions below it live) keeps serving them */
	for (size_t i = 0; i < p->nshared; i++)
		if (lineage_has(l, p->shared[i].cg.id[0])) {
			*out = &p->shared[i];
			return 0;
		}
	/* hooks of its own and a parent's below it would both run for the same sessions */
	drop_unused_shared(p, l->id[0]);
	for (size_t i = 0; i < p->nshared; i++)
		if (lineage_has(&p->shared[i].cg, l->id[0]))
			return -EBUSY;
	return 0;
}

/* w's lineage (it must be cgroup_id's) and room for it in the list. */
static int prepare_watch(struct probes *p, int cgroup_fd, uint64_t cgroup_id, struct watch *w)
{
	int rc = cgroup_lineage(p, cgroup_fd, &w->cg);

	if (rc)
		return rc;
	if (w->cg.id[0] != cgroup_id)
		return -EINVAL;
	if (p->nwatches == p->capwatches) {
		size_t cap = p->capwatches ? 2 * p->capwatches : 8;
		struct watch *v = realloc(p->watches, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->watches = v;
		p->capwatches = cap;
	}
	return 0;
}

/* The processes already in dir (a cgroup v2 directory) and below it become
 * members of session: a later move out of it is known to leave it.  Those
 * that fork or move in from now on the kernel adds itself. */
static int seed_members(struct probes *p, int dir, uint64_t session, unsigned depth)
{
	struct st_member m = { .session = session };
	int fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC), rc = 0;
	struct dirent *de;
	FILE *f;
	DIR *d;
	unsigned tgid;

	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (fscanf(f, "%u", &tgid) == 1)
		if (bpf_map__update_elem(p->skel->maps.members, &tgid, sizeof(tgid), &m, sizeof(m), BPF_NOEXIST) &&
		    errno != EEXIST)
			rc = -errno;
	fclose(f);
	fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (rc == 0 && depth < ST_LEVELS && (de = readdir(d))) {
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue; /* removed meanwhile */
		rc = seed_members(p, sub, session, depth + 1);
		close(sub);
	}
	closedir(d);
	return rc;
}

int probes_watch(struct probes *p, int cgroup_fd, uint64_t cgroup_id, int parent_fd, uint64_t parent_id)
{
	struct watch w = { .id = cgroup_id };
	struct shared *sh;
	int rc;

	if (find_watch(p, cgroup_id))
		return -EEXIST;
	rc = prepare_watch(p, cgroup_fd, cgroup_id, &w);
	if (rc)
		return rc;
	rc = shared_for(p, &w.cg, parent_fd, parent_id, &sh);
	if (rc)
		return rc;
	rc = alloc_slot(p, &w.val.slot);
	if (rc)
		return rc;
	{
		uint32_t slot = w.val.slot;
		uint64_t zero = 0;

		if (bpf_map__update_elem(p->skel->maps.dgram_dests, &slot, sizeof(slot), &zero, sizeof(zero), 0)) {
			p->slot_used[slot] = 0;
			return -errno;
		}
	}
	if (bpf_map__update_elem(p->skel->maps.watched, &cgroup_id, sizeof(cgroup_id), &w.val, sizeof(w.val),
				 BPF_NOEXIST)) {
		p->slot_used[w.val.slot] = 0;
		return -errno;
	}
	p->level_refs[w.cg.level]++;
	set_levels(p);
	rc = sh ? 0 : attach_hooks(p, w.hooks, cgroup_fd);
	if (rc) {
		bpf_map__delete_elem(p->skel->maps.watched, &cgroup_id, sizeof(cgroup_id), 0);
		p->level_refs[w.cg.level]--;
		set_levels(p);
		p->slot_used[w.val.slot] = 0;
		return rc;
	}
	if (sh) {
		w.shared = sh->cg.id[0];
		sh->watches++;
	}
	p->watches[p->nwatches++] = w;
	/* after the watch: a process forked meanwhile is added by the kernel */
	if (seed_members(p, cgroup_fd, cgroup_id, 0) < 0)
		notice(NULL, "some processes of a new session could not be marked: their moves out of it may go unseen");
	return 0;
}

static void delete_rules(struct probes *p, uint64_t session, uint8_t gen, const struct netpolicy_rule *r, uint32_t n)
{
	struct st_np_key k;

	for (uint32_t i = 0; i < n; i++) {
		netpolicy_key(&k, session, gen, &r[i]);
		bpf_map__delete_elem(p->skel->maps.egress, &k, sizeof(k), 0);
	}
}

/* The rules an earlier collector set for session under gen: found in the
 * map, as this one never had their list. */
static void delete_found_rules(struct probes *p, uint64_t session, uint8_t gen)
{
	int fd = bpf_map__fd(p->skel->maps.egress);
	struct st_np_key k, next, *found = NULL;
	size_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (memcmp(next.session, &session, sizeof(session)) || next.gen != gen)
			continue;
		struct st_np_key *v = realloc(found, (n + 1) * sizeof(*v));

		if (!v)
			break;
		found = v;
		found[n++] = next;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &found[i]);
	free(found);
}

static void drop_rules(struct probes *p, struct watch *w)
{
	if (w->adopted)
		delete_found_rules(p, w->id, w->val.gen);
	else
		delete_rules(p, w->id, w->val.gen, w->rules, w->nrules);
	free(w->rules);
	w->rules = NULL;
	w->nrules = 0;
	w->adopted = false;
}

int probes_set_netpolicy(struct probes *p, uint64_t cgroup_id, const struct netpolicy *pol)
{
	struct watch *w = find_watch(p, cgroup_id);
	struct st_watch val = { 0 };
	struct netpolicy_rule *rules = NULL;
	uint32_t n = pol && pol->enforce ? pol->n : 0;
	uint8_t one = 1;
	struct st_np_key k;

	if (!w)
		return -ENOENT;
	if (n > NETPOLICY_RULES_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		const struct netpolicy_rule *r = &pol->rules[i];

		if (!(r->family == AF_INET && r->prefix <= 32) && !(r->family == AF_INET6 && r->prefix <= 128))
			return -EINVAL;
	}
	if (n) {
		rules = malloc(n * sizeof(*rules));
		if (!rules)
			return -ENOMEM;
		memcpy(rules, pol->rules, n * sizeof(*rules));
	}
	val.enforce = pol && pol->enforce ? ST_ENFORCE_INET | (pol->abstract_unix ? 0 : ST_ENFORCE_UNIX) : 0;
	if (pol && pol->enforce && pol->proxy)
		val.enforce |= ST_ENFORCE_PROXY;
	val.gen = (uint8_t)(w->val.gen + 1);
	for (uint32_t i = 0; i < n; i++) {
		netpolicy_key(&k, cgroup_id, val.gen, &rules[i]);
		if (bpf_map__update_elem(p->skel->maps.egress, &k, sizeof(k), &one, sizeof(one), BPF_ANY)) {
			int rc = -errno;

			delete_rules(p, cgroup_id, val.gen, rules, i);
			free(rules);
			return rc;
		}
	}
	/* the switch: from here on the kernel looks rules up under the new gen */
	if (bpf_map__update_elem(p->skel->maps.watched, &cgroup_id, sizeof(cgroup_id), &val, sizeof(val), BPF_EXIST)) {
		int rc = -errno;

		delete_rules(p, cgroup_id, val.gen, rules, n);
		free(rules);
		return rc;
	}
	drop_rules(p, w);
	w->rules = rules;
	w->nrules = n;
	w->val = val;
	return 0;
}

int probes_unwatch(struct probes *p, uint64_t cgroup_id, uint64_t lost[ST_EV_MAX][ST_LOSS_MAX])
{
	struct watch *w = find_watch(p, cgroup_id);
	int rc;

	if (!w)
		return -ENOENT;
	if (w->shared) {
		find_shared(p, w->shared)->watches--;
		drop_unused_shared(p, 0);
	}
	detach_hooks(p, w->hooks);
	bpf_map__delete_elem(p->skel->maps.watched, &cgroup_id, sizeof(cgroup_id), 0);
	/* later losses of the session's stragglers count as unattributed */
	rc = lost ? slot_losses(p, w->val.slot, lost, false) : 0;
	p->slot_used[w->val.slot] = 0;
	drop_rules(p, w);
	if (p->state_fd >= 0)
		bpf_map_delete_elem(p->state_fd, &cgroup_id);
	p->level_refs[w->cg.level]--;
	set_levels(p);
	*w = p->watches[--p->nwatches];
	return rc;
}

int probes_datagrams(struct probes *p, uint64_t cgroup_id, probes_dgram_fn fn, void *ctx)
{
	int fd = bpf_map__fd(p->skel->maps.dgrams);
	struct st_dgram_key k, next, *prev = NULL;
	uint64_t n;

	if (find_watch(p, cgroup_id))
		return -EBUSY;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		/* the next key is taken before this one goes: deletes do not restart the walk */
		if (prev && prev->session == cgroup_id)
			bpf_map_delete_elem(fd, prev);
		k = next;
		prev = &k;
		if (k.session == cgroup_id && bpf_map_lookup_elem(fd, &k, &n) == 0)
			fn(ctx, &k, n);
	}
	if (prev && prev->session == cgroup_id)
		bpf_map_delete_elem(fd, prev);
	fd = bpf_map__fd(p->skel->maps.dgram_untracked);
	if (bpf_map_lookup_elem(fd, &cgroup_id, &n) == 0) {
		memset(&k, 0, sizeof(k));
		k.session = cgroup_id;
		fn(ctx, &k, n);
		bpf_map_delete_elem(fd, &cgroup_id);
	}
	return 0;
}

int probes_adopt(struct probes *p, int cgroup_fd, uint64_t cgroup_id, int parent_fd, uint64_t parent_id)
{
	struct watch w = { .id = cgroup_id, .adopted = true };
	struct shared *sh;
	int rc;

	if (!p->inherited || find_watch(p, cgroup_id))
		return -EINVAL;
	if (bpf_map__lookup_elem(p->skel->maps.watched, &cgroup_id, sizeof(cgroup_id), &w.val, sizeof(w.val), 0))
		return -ENOENT;
	if (w.val.slot >= ST_WATCH_MAX || p->slot_used[w.val.slot])
		return -EINVAL;
	rc = prepare_watch(p, cgroup_fd, cgroup_id, &w);
	if (rc)
		return rc;
	/* this load's hooks, idle until the takeover; the earlier ones police meanwhile */
	rc = shared_for(p, &w.cg, parent_fd, parent_id, &sh);
	if (rc == 0 && !sh)
		rc = attach_hooks(p, w.hooks, cgroup_fd);
	if (rc)
		return rc;
	if (sh) {
		w.shared = sh->cg.id[0];
		sh->watches++;
	}
	p->slot_used[w.val.slot] = 1;
	p->level_refs[w.cg.level]++; /* the kernel's levels stay until the takeover */
	p->watches[p->nwatches++] = w;
	return 0;
}

int probes_takeover(struct probes *p)
{
	uint64_t key, prev, *gone = NULL;
	size_t ngone = 0;
	bool first = true, grace;
	char prefix[16];
	struct dirent *e;
	DIR *d;
	int fd;

	if (!p->inherited)
		return 0;
	/* what nobody adopted is traced no more (its session ended here) */
	while (bpf_map__get_next_key(p->skel->maps.watched, first ? NULL : &prev, &key, sizeof(key)) == 0) {
		uint64_t *v;

		first = false;
		prev = key;
		if (find_watch(p, key))
			continue;
		v = realloc(gone, (ngone + 1) * sizeof(*v));
		if (!v)
			break;
		gone = v;
		gone[ngone++] = key;
	}
	for (size_t i = 0; i < ngone; i++) {
		struct st_watch val;

		if (bpf_map__lookup_elem(p->skel->maps.watched, &gone[i], sizeof(gone[i]), &val, sizeof(val), 0) == 0)
			delete_found_rules(p, gone[i], val.gen);
		bpf_map__delete_elem(p->skel->maps.watched, &gone[i], sizeof(gone[i]), 0);
		bpf_map_delete_elem(p->state_fd, &gone[i]);
	}
	free(gone);
	set_levels(p);
	/* the switch: one word, so no event is recorded twice or not at all.
	 * A hit it falls in (the earlier load's program read the word before,
	 * this load's after) shares one reading while handover_loader is set;
	 * the grace periods (no program runs across them: membarrier waits for
	 * synchronize_rcu) make every hit that can see the switch see that too.
	 * Without them (nohz_full) a hit may be recorded twice, never lost. */
	__atomic_store_n(&p->skel->bss->handover_loader, p->loader, __ATOMIC_SEQ_CST);
	grace = syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0;
	__atomic_store_n(&p->skel->bss->active_loader, p->loader, __ATOMIC_SEQ_CST);
	if (grace)
		syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	__atomic_store_n(&p->skel->bss->handover_loader, 0, __ATOMIC_SEQ_CST);
	/* the earlier links, unpinned, are detached: nothing else holds them */
	snprintf(prefix, sizeof(prefix), "L%08x-", p->loader);
	fd = openat(p->pin_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] == 'L' && strncmp(e->d_name, prefix, strlen(prefix)))
			unlinkat(p->pin_fd, e->d_name, 0);
	closedir(d);
	p->inherited = false;
	return 0;
}

char *probes_state_get(struct probes *p, uint64_t cgroup_id)
{
	char *buf;

	if (p->state_fd < 0 || !(buf = malloc(PROBES_STATE_MAX)))
		return NULL;
	if (bpf_map_lookup_elem(p->state_fd, &cgroup_id, buf) < 0 || !memchr(buf, 0, PROBES_STATE_MAX)) {
		free(buf);
		return NULL;
	}
	return buf;
}

int probes_state_set(struct probes *p, uint64_t cgroup_id, const char *state)
{
	size_t len = strlen(state) + 1;
	char *buf;
	int rc;

	if (p->state_fd < 0)
		return -EOPNOTSUPP;
	if (len > PROBES_STATE_MAX)
		return -E2BIG;
	buf = calloc(1, PROBES_STATE_MAX);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, state, len);
	rc = bpf_map_update_elem(p->state_fd, &cgroup_id, buf, BPF_ANY) < 0 ? -errno : 0;
	free(buf);
	return rc;
}

int probes_losses(struct probes *p, uint64_t cgroup_id, uint64_t lost[ST_EV_MAX][ST_LOSS_MAX])
{
	struct watch *w = cgroup_id ? find_watch(p, cgroup_id) : NULL;

	if (cgroup_id && !w)
		return -ENOENT;
	return slot_losses(p, w ? w->val.slot : ST_WATCH_MAX, lost, false);
}

int probes_ring_fill(struct probes *p, uint64_t *used, uint64_t *size)
{
	long page = sysconf(_SC_PAGESIZE);
	/* the ring's first two pages: the consumer's position, the producer's
	 * (read-only mappings of both are allowed) */
	const volatile uint64_t *pos = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED,
					     bpf_map__fd(p->skel->maps.events), 0);

	if (pos == MAP_FAILED)
		return -errno;
	*used = pos[page / sizeof(*pos)] - pos[0];
	*size = bpf_map__max_entries(p->skel->maps.events);
	munmap((void *)pos, 2 * page);
	return 0;
}

void probes_close(struct probes *p, bool keep)
{
	if (!p)
		return;
	p->keep = keep;
	for (size_t i = 0; i < p->nwatches; i++) {
		detach_hooks(p, p->watches[i].hooks);
		free(p->watches[i].rules);
	}
	free(p->watches);
	for (size_t i = 0; i < p->nshared; i++)
		detach_hooks(p, p->shared[i].hooks);
	free(p->shared);
	for (size_t i = 0; i < p->nlinks; i++)
		drop_link(p, p->links[i]);
	ring_buffer__free(p->rb);
	free(p->held);
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->timerfd >= 0)
		close(p->timerfd);
	if (p->state_fd >= 0)
		close(p->state_fd);
	sandtrail_bpf__destroy(p->skel);
	if (p->pin_fd >= 0 && !keep) {
		clear_pins(p);
		rmdir(p->pin_dir);
	}
	if (p->pin_fd >= 0)
		close(p->pin_fd);
	free(p);
}
