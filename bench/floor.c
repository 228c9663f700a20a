/* floor: attaches bench/floor.bpf.c (every hook of bpf/, programs that
 * return at once) until SIGTERM, the cgroup hooks on one cgroup.  Refuses
 * to run when its sections no longer match the product's object, so the
 * floor never silently measures a different set of hooks.
 *
 *   floor --cgroup PATH --check build/sandtrail.bpf.o
 *
 * Prints "floor: ready" on stderr once everything is attached. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "floor.skel.h"

#define SECS_MAX 256
#define HOOKS    7 /* cgroup programs, attached to the one cgroup */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The hook sections of obj's programs, sorted (iter/ programs are read on
 * demand by the collector, not hooks). */
static size_t sections(struct bpf_object *obj, char *out[SECS_MAX])
{
	struct bpf_program *prog;
	size_t n = 0;

	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);

		if (strncmp(sec, "iter/", 5) && n < SECS_MAX)
			out[n++] = strdup(sec);
	}
	qsort(out, n, sizeof(out[0]), cmp_str);
	return n;
}

/* 0 when both objects hook the same sections, each as often. */
static int check_sections(struct bpf_object *floor, const char *product_path)
{
	struct bpf_object *prod = bpf_object__open_file(product_path, NULL);
	char *f[SECS_MAX], *p[SECS_MAX];
	size_t nf, np, i = 0, j = 0;
	int bad = 0;

	if (!prod) {
		fprintf(stderr, "floor: open %s: %s\n", product_path, strerror(errno));
		return -1;
	}
	nf = sections(floor, f);
	np = sections(prod, p);
	while (i < nf || j < np) {
		int c = i == nf ? 1 : j == np ? -1 : strcmp(f[i], p[j]);

		if (c)
			fprintf(stderr, "floor: %s hooks %s, %s does not\n", c < 0 ? "bench/floor.bpf.c" : product_path,
				c < 0 ? f[i] : p[j], c < 0 ? product_path : "bench/floor.bpf.c");
		bad |= c != 0;
		if (c <= 0)
			free(f[i++]);
		if (c >= 0)
			free(p[j++]);
	}
	bpf_object__close(prod);
	return bad ? -1 : 0;
}

/* An attach type by its name in this kernel's BTF, -1 if it has none. */
static int attach_type(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int id = btf ? btf__find_by_name_kind(btf, "bpf_attach_type", BTF_KIND_ENUM) : -1;
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	int val = -1;

	for (int i = 0; t && i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, btf_enum(t)[i].name_off), name))
			val = (int)btf_enum(t)[i].val;
	btf__free(btf);
	return val;
}

/* The unix socket hooks (6.7+) by number, as the collector sets them. */
static void set_unix_hooks(struct floor_bpf *skel)
{
	int connect = attach_type("BPF_CGROUP_UNIX_CONNECT"), sendmsg = attach_type("BPF_CGROUP_UNIX_SENDMSG");

	if (connect >= 0 && sendmsg >= 0) {
		bpf_program__set_expected_attach_type(skel->progs.connect_unix, (enum bpf_attach_type)connect);
		bpf_program__set_expected_attach_type(skel->progs.sendmsg_unix, (enum bpf_attach_type)sendmsg);
		return;
	}
	bpf_program__set_autoload(skel->progs.connect_unix, false);
	bpf_program__set_autoload(skel->progs.sendmsg_unix, false);
}

/* libbpf finds tracepoint ids in tracefs: mount it in a mount namespace of
 * this process only when the host has none mounted. */
static int need_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 || access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return 0;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount("tracefs", "/sys/kernel/tracing", "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		fprintf(stderr, "floor: mount(\"tracefs\", \"/sys/kernel/tracing\"): %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_program *hooks[HOOKS];
	struct bpf_link *links[HOOKS] = { NULL };
	struct floor_bpf *skel;
	const char *cgroup = NULL, *check = NULL;
	sigset_t set;
	int cgfd, sig, rc = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--cgroup"))
			cgroup = argv[i + 1];
		else if (!strcmp(argv[i], "--check"))
			check = argv[i + 1];
	}
	if (!cgroup || !check || argc != 5) {
		fprintf(stderr, "usage: floor --cgroup PATH --check SANDTRAIL_BPF_OBJ\n");
		return 2;
	}
	cgfd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		fprintf(stderr, "floor: open %s: %s\n", cgroup, strerror(errno));
		return 1;
	}
	/* signals wait for sigwait: SIGTERM during the load still ends us cleanly */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	skel = floor_bpf__open();
	if (!skel) {
		fprintf(stderr, "floor: open skeleton: %s\n", strerror(errno));
		return 1;
	}
	if (check_sections(skel->obj, check) < 0)
		goto out;
	set_unix_hooks(skel);
	if (need_tracefs() < 0)
		goto out;
	if (floor_bpf__load(skel) || floor_bpf__attach(skel)) {
		fprintf(stderr, "floor: load/attach: %s\n", strerror(errno));
		goto out;
	}
	hooks[0] = skel->progs.connect4;
	hooks[1] = skel->progs.connect6;
	hooks[2] = skel->progs.sendmsg4;
	hooks[3] = skel->progs.sendmsg6;
	hooks[4] = skel->progs.connect_unix;
	hooks[5] = skel->progs.sendmsg_unix;
	hooks[6] = skel->progs.tcp_sockops;
	for (int i = 0; i < HOOKS; i++) {
		if (bpf_program__fd(hooks[i]) < 0)
			continue;
		links[i] = bpf_program__attach_cgroup(hooks[i], cgfd);
		if (!links[i]) {
			fprintf(stderr, "floor: attach %s to %s: %s\n", bpf_program__name(hooks[i]), cgroup,
				strerror(errno));
			goto out;
		}
	}
	fprintf(stderr, "floor: ready\n");
	sigwait(&set, &sig);
	rc = 0;
out:
	for (int i = 0; i < HOOKS; i++)
		bpf_link__destroy(links[i]);
	floor_bpf__destroy(skel);
	close(cgfd);
	return rc;
}
