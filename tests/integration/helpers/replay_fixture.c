/* Writes records through the journal API for the replay tests.
 *
 *   replay_fixture --key FILE DIR session ID [ID2]  a scripted session with every record
 *                                                   type and hostile bytes in paths and argv;
 *                                                   ID2 gets a short second session
 *   replay_fixture --key FILE DIR start ID         session_start only (a live session)
 *   replay_fixture --key FILE DIR append ID TYPE   one more record: exec or session_end
 *   replay_fixture --key FILE DIR bulk ID N        a session of N records (throughput)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal/journal.h"

#define BASE_NS 1700000000000000000ull /* 2023-11-14T22:13:20Z */

static struct journal *j;
static struct rec r;
static uint64_t now_ns = BASE_NS;
static const char *sid;

static void append(void)
{
	size_t len;
	const void *p = rec_finish(&r, &len);
	int rc = journal_append(j, p, len, NULL);

	if (rc < 0) {
		fprintf(stderr, "replay_fixture: journal_append: %s\n", strerror(-rc));
		exit(1);
	}
}

/* A record of the session, 10 ms after the previous one. */
static void begin(const char *type)
{
	now_ns += 10000000;
	rec_begin(&r, type, now_ns);
	rec_str(&r, "session", sid);
	rec_key(&r, "labels");
	msgpack_pack_map(&r.pk, 2);
	msgpack_pack_str_with_body(&r.pk, "ci", 2);
	msgpack_pack_str_with_body(&r.pk, "yes", 3);
	msgpack_pack_str_with_body(&r.pk, "team", 4);
	msgpack_pack_str_with_body(&r.pk, "red", 3);
}

static void proc(const char *type, uint32_t pid, uint32_t ppid, const char *comm, const char *sys)
{
	begin(type);
	rec_uint(&r, "pid", pid);
	rec_uint(&r, "tid", pid);
	rec_uint(&r, "ppid", ppid);
	rec_uint(&r, "uid", 1000);
	rec_uint(&r, "gid", 1000);
	rec_bytes(&r, "comm", comm, strlen(comm));
	rec_uint(&r, "cgroup", 4242);
	if (sys)
		rec_str(&r, "syscall", sys);
}

static void pack_argv(const char *key, const char *const *argv, const size_t *lens, size_t n)
{
	rec_key(&r, key);
	msgpack_pack_array(&r.pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_bin_with_body(&r.pk, argv[i], lens ? lens[i] : strlen(argv[i]));
}

static void flags(const char *const *f, size_t n)
{
	rec_key(&r, "flags");
	msgpack_pack_array(&r.pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_str_with_body(&r.pk, f[i], strlen(f[i]));
}

static void session_start(void)
{
	static const char *const argv[] = { "sh", "-c", "agent" };

	begin("session_start");
	rec_str(&r, "mode", "hardened");
	rec_str(&r, "cgroup", "/sys/fs/cgroup/unified/sandtrail/test");
	rec_str(&r, "policy_digest", "sha256:00ff");
	pack_argv("argv", argv, NULL, 3);
	append();
}

static void exec(uint32_t pid, uint32_t ppid, const char *fn, const char *const *argv, const size_t *lens,
		 size_t n, int ret)
{
	proc("exec", pid, ppid, "sh", "execve");
	rec_bytes(&r, "filename", fn, strlen(fn));
	pack_argv("argv", argv, lens, n);
	rec_bool(&r, "argv_truncated", false);
	if (ret == 0)
		rec_bytes(&r, "exe", fn, strlen(fn));
	rec_int(&r, "ret", ret);
	append();
}

static void open_(uint32_t pid, const char *path, size_t plen, const char *const *f, size_t nf, int ret)
{
	proc("open", pid, 100, "sh", "openat");
	rec_bytes(&r, "path", path, plen);
	rec_bytes(&r, "requested", path, plen);
	flags(f, nf);
	rec_uint(&r, "mode", 0644);
	rec_int(&r, "ret", ret);
	append();
}

static void connect_(uint32_t pid, const char *addr, unsigned port, const char *verdict, int ret)
{
	proc("connect", pid, 101, "curl", "connect");
	rec_str(&r, "family", "AF_INET");
	rec_str(&r, "addr", addr);
	rec_uint(&r, "port", port);
	rec_str(&r, "verdict", verdict);
	rec_str(&r, "source", "hook");
	rec_int(&r, "ret", ret);
	append();
}

static void fork_(uint32_t pid, uint32_t ppid, uint32_t child)
{
	proc("fork", pid, ppid, "sh", "clone");
	rec_uint(&r, "child_pid", child);
	append();
}

static void exit_(uint32_t pid, uint32_t ppid, int code)
{
	proc("exit", pid, ppid, "sh", NULL);
	rec_int(&r, "code", code);
	append();
}

static void session_end(void)
{
	begin("session_end");
	rec_str(&r, "reason", "exit");
	rec_int(&r, "exit_status", 0);
	append();
}

/* The scripted session: 17 records, every type, the tree 100 -> 101 -> 102. */
static void session(void)
{
	static const char *const rd[] = { "O_RDONLY" }, *const wr[] = { "O_WRONLY", "O_CREAT", "O_TRUNC" };
	static const char *const sh[] = { "sh", "-c", "echo hi" };
	static const char evil[] = "/work/evil\nname\"q\x1b[31m\xff";
	static const char *const curl[] = { "curl", "http://x", "a\nb\xc3\x28" };
	static const size_t curl_lens[] = { 4, 8, 5 };

	session_start();
	fork_(100, 1, 101);
	exec(101, 100, "/bin/sh", sh, NULL, 3, 0);
	open_(101, "/work/in.txt", 12, rd, 1, 3);
	open_(101, "/work/out.txt", 13, wr, 3, 4);
	open_(101, "/missing", 8, rd, 1, -ENOENT);
	open_(101, evil, sizeof(evil) - 1, wr, 2, 5);
	fork_(101, 100, 102);
	exec(102, 101, "/usr/bin/curl", curl, curl_lens, 3, 0);
	connect_(102, "127.0.0.1", 8080, "allow", 0);
	connect_(102, "10.1.2.3", 443, "deny", -EPERM);
	proc("rename", 101, 100, "sh", "renameat2");
	rec_bytes(&r, "from", "/work/out.txt", 13);
	rec_bytes(&r, "to", "/work/final.txt", 15);
	rec_int(&r, "ret", 0);
	append();
	proc("unlink", 101, 100, "sh", "unlinkat");
	rec_bytes(&r, "path", "/work/in.txt", 12);
	rec_bool(&r, "dir", false);
	rec_int(&r, "ret", 0);
	append();
	begin("loss");
	rec_str(&r, "kind", "open");
	rec_str(&r, "reason", "ringbuf");
	rec_uint(&r, "count", 3);
	append();
	exit_(102, 101, 0);
	exit_(101, 100, 0);
	session_end();
}

static void bulk(unsigned long n)
{
	static const char *const wr[] = { "O_WRONLY", "O_CREAT", "O_TRUNC" };
	static const char *const argv[] = { "python3", "-m", "pytest", "-q", "tests/test_api.py" };
	char path[64];

	session_start();
	for (unsigned long i = 1; i < n; i++) {
		if (i % 4 == 0) {
			exec(100 + (uint32_t)(i % 50), 100, "/usr/bin/python3", argv, NULL, 5, 0);
		} else {
			int len = snprintf(path, sizeof(path), "/work/project/src/module_%lu.py", i % 1000);

			open_(100 + (uint32_t)(i % 50), path, (size_t)len, wr, 3, 3);
		}
	}
}

int main(int argc, char **argv)
{
	struct journal_config cfg;
	int a = 3, rc;

	journal_config_defaults(&cfg);
	cfg.seal_every = 1000;
	cfg.seal_ms = 500;
	cfg.fsync = JOURNAL_FSYNC_NONE;
	if (argc < 6 || strcmp(argv[1], "--key")) {
		fprintf(stderr, "usage: replay_fixture --key FILE DIR session|start|append|bulk ID [ARG]\n");
		return 2;
	}
	cfg.key_path = argv[2];
	cfg.dir = argv[a];
	sid = argv[a + 2];
	rc = journal_open(&j, &cfg);
	if (rc < 0) {
		fprintf(stderr, "replay_fixture: journal_open(%s): %s\n", cfg.dir, strerror(-rc));
		return 1;
	}
	rec_init(&r);
	if (!strcmp(argv[a + 1], "session")) {
		session();
		if (argc - a > 3) {
			sid = argv[a + 3];
			session_start();
			exec(200, 1, "/bin/true", (const char *const[]){ "true" }, NULL, 1, 0);
			session_end();
		}
	} else if (!strcmp(argv[a + 1], "start")) {
		now_ns = (uint64_t)time(NULL) * 1000000000ull;
		session_start();
	} else if (!strcmp(argv[a + 1], "append") && argc - a > 3) {
		now_ns = (uint64_t)time(NULL) * 1000000000ull;
		if (!strcmp(argv[a + 3], "session_end"))
			session_end();
		else
			exec(300, 1, "/bin/appended", (const char *const[]){ "appended", "later" }, NULL, 2, 0);
	} else if (!strcmp(argv[a + 1], "bulk") && argc - a > 3) {
		bulk(strtoul(argv[a + 3], NULL, 10));
	} else {
		fprintf(stderr, "replay_fixture: unknown command '%s'\n", argv[a + 1]);
		return 2;
	}
	rec_free(&r);
	rc = journal_close(j);
	if (rc < 0) {
		fprintf(stderr, "replay_fixture: journal_close: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
