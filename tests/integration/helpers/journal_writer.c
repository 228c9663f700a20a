/* journal_writer: writes N synthetic, realistic records (exec / open like the
 * collector's, ~200 bytes of msgpack) through the journal API as fast as it
 * can, then prints records/s and bytes on disk per record.  Used by the crash
 * test (killed mid-burst) and by `make bench`.
 *
 * journal_writer --journal DIR --key FILE [--create-key] [--count N]
 *     [--seal-records N] [--seal-ms N] [--segment-bytes N] [--fsync seal|always|none]
 *     [--epoch-ms N] [--epoch-seals N] [--block-bytes N] [--level N] [--sessions K]
 * journal_writer --scan DIR --pubkey FILE [--upto SEQ]
 *     prints "records R sealed S unsealed U bad B last_sealed L recovery C digest D":
 *     D is SHA-256 over (seq, record) of every record with seq <= SEQ.
 * journal_writer --dump DIR
 *     writes every record's msgpack bytes to stdout, each after its length as
 *     a big-endian 32-bit integer (what kcat -f '%R%s' prints of a message). */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "clock.h"
#include "journal/crypto.h"
#include "journal/journal.h"
#include "journal/keys.h"

#define VARIANTS 4096

/* A record as the collector writes it for an exec or an open. */
static void build(struct rec *r, unsigned i, unsigned sessions, uint64_t ts)
{
	static const char *const dirs[] = { "src", "tests", "docs", "lib", "build" };
	char session[17], path[160], argv1[64];
	unsigned pid = 4000 + i % 97;

	snprintf(session, sizeof(session), "%016x", 0x3f9a1c0du + i % sessions);
	snprintf(path, sizeof(path), "/home/agent/repo/%s/mod%u/f%u.py", dirs[i % 5], i % 41, i % 997);
	rec_begin(r, i % 4 ? "open" : "exec", ts);
	rec_str(r, "session", session);
	rec_key(r, "labels");
	msgpack_pack_map(&r->pk, 1);
	msgpack_pack_str_with_body(&r->pk, "agent", 5);
	msgpack_pack_str_with_body(&r->pk, "claude", 6);
	rec_uint(r, "pid", pid);
	rec_uint(r, "tid", pid + i % 3);
	rec_uint(r, "ppid", 3990);
	rec_uint(r, "uid", 1000);
	rec_uint(r, "gid", 1000);
	rec_bytes(r, "comm", "python3", 7);
	rec_uint(r, "cgroup", 12345);
	if (i % 4 == 0) {
		rec_str(r, "syscall", "execve");
		rec_bytes(r, "filename", "/usr/bin/git", 12);
		rec_key(r, "argv");
		msgpack_pack_array(&r->pk, 3);
		msgpack_pack_bin_with_body(&r->pk, "git", 3);
		snprintf(argv1, sizeof(argv1), "%s", i % 8 ? "status" : "diff");
		msgpack_pack_bin_with_body(&r->pk, argv1, strlen(argv1));
		msgpack_pack_bin_with_body(&r->pk, path, strlen(path));
		rec_bool(r, "argv_truncated", false);
		rec_bytes(r, "exe", "/usr/bin/git", 12);
		rec_int(r, "ret", 0);
	} else {
		rec_str(r, "syscall", "openat");
		rec_bytes(r, "path", path, strlen(path));
		rec_bytes(r, "requested", path + 17, strlen(path) - 17);
		rec_key(r, "flags");
		msgpack_pack_array(&r->pk, 2);
		msgpack_pack_str_with_body(&r->pk, i % 3 ? "O_RDONLY" : "O_WRONLY", 8);
		msgpack_pack_str_with_body(&r->pk, "O_CLOEXEC", 9);
		rec_uint(r, "mode", 0);
		rec_int(r, "ret", i % 11 ? 3 : -2);
	}
}

/* CPU time of this process: on a shared machine, wall time says little. */
static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t dir_bytes(const char *dir)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	uint64_t sum = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	closedir(d);
	return sum;
}

static int scan(const char *dir, const char *pubkey, uint64_t upto)
{
	uint64_t n[3] = { 0 }, last_sealed = 0, recoveries = 0, records = 0;
	uint8_t digest[CRYPTO_SHA256_LEN] = { 0 };
	struct crypto_sha256 *h;
	struct journal_reader *r;
	struct journal_entry e;
	msgpack_zone zone;
	int rc;

	if (journal_reader_open(&r, dir, pubkey) < 0 || crypto_sha256_new(&h) < 0) {
		fprintf(stderr, "journal_writer: cannot read %s\n", dir);
		return 2;
	}
	msgpack_zone_init(&zone, 4096);
	while ((rc = journal_reader_next(r, &e)) == 1) {
		msgpack_object o;

		records++;
		n[e.seal]++;
		if (e.seal == JOURNAL_SEALED)
			last_sealed = e.seq;
		msgpack_zone_clear(&zone);
		if (rec_unpack(e.rec, e.len, &zone, &o) == 0 && rec_is(&o, "type", "recovery"))
			recoveries++;
		if (e.seq <= upto)
			crypto_sha256_3(h, digest, sizeof(digest), &e.seq, sizeof(e.seq), e.rec, e.len, digest);
	}
	printf("records %" PRIu64 " sealed %" PRIu64 " unsealed %" PRIu64 " bad %" PRIu64 " last_sealed %" PRIu64
	       " recovery %" PRIu64 " digest ",
	       records, n[JOURNAL_SEALED], n[JOURNAL_UNSEALED], n[JOURNAL_BAD], last_sealed, recoveries);
	for (size_t i = 0; i < sizeof(digest); i++)
		printf("%02x", digest[i]);
	printf("\n");
	msgpack_zone_destroy(&zone);
	crypto_sha256_free(h);
	journal_reader_close(r);
	return rc < 0 ? 2 : 0;
}

static int dump(const char *dir)
{
	struct journal_reader *r;
	struct journal_entry e;
	int rc;

	if (journal_reader_open(&r, dir, NULL) < 0) {
		fprintf(stderr, "journal_writer: cannot read %s\n", dir);
		return 2;
	}
	while ((rc = journal_reader_next(r, &e)) == 1) {
		uint32_t be = htobe32((uint32_t)e.len);

		fwrite(&be, sizeof(be), 1, stdout);
		fwrite(e.rec, 1, e.len, stdout);
	}
	journal_reader_close(r);
	return rc < 0 || fflush(stdout) ? 2 : 0;
}

static unsigned long long num(const char *s, const char *flag)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || !*s) {
		fprintf(stderr, "journal_writer: %s %s: not a number\n", flag, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' },   { "key", required_argument, NULL, 'k' },
		{ "create-key", no_argument, NULL, 'K' },      { "count", required_argument, NULL, 'n' },
		{ "seal-records", required_argument, NULL, 'r' }, { "seal-ms", required_argument, NULL, 'm' },
		{ "segment-bytes", required_argument, NULL, 'b' }, { "fsync", required_argument, NULL, 'f' },
		{ "epoch-ms", required_argument, NULL, 'e' },  { "epoch-seals", required_argument, NULL, 'E' },
		{ "block-bytes", required_argument, NULL, 'B' }, { "level", required_argument, NULL, 'L' },
		{ "sessions", required_argument, NULL, 's' }, { "scan", required_argument, NULL, 'S' },
		{ "pubkey", required_argument, NULL, 'p' },    { "upto", required_argument, NULL, 'u' },
		{ "dump", required_argument, NULL, 'D' },
		{ 0 },
	};
	struct journal_config cfg;
	unsigned long long count = 1000000, upto = UINT64_MAX, sessions = 3;
	const char *scan_dir = NULL, *pubkey = NULL, *dump_dir = NULL;
	static struct rec recs[VARIANTS];
	const void *bytes[VARIANTS];
	size_t lens[VARIANTS], total = 0;
	bool create = false;
	char err[512] = "";
	struct journal *j;
	uint64_t t0, t1, disk;
	double c0, c1;
	int c, rc;

	journal_config_defaults(&cfg);
	cfg.err = err;
	cfg.err_len = sizeof(err);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': cfg.dir = optarg; break;
		case 'k': cfg.key_path = optarg; break;
		case 'K': create = true; break;
		case 'n': count = num(optarg, "--count"); break;
		case 'r': cfg.seal_every = (uint32_t)num(optarg, "--seal-records"); break;
		case 'm': cfg.seal_ms = (uint32_t)num(optarg, "--seal-ms"); break;
		case 'b': cfg.segment_bytes = num(optarg, "--segment-bytes"); break;
		case 'e': cfg.epoch_ms = (uint32_t)num(optarg, "--epoch-ms"); break;
		case 'E': cfg.epoch_seals = (uint32_t)num(optarg, "--epoch-seals"); break;
		case 'B': cfg.block_bytes = (uint32_t)num(optarg, "--block-bytes"); break;
		case 'L': cfg.compress_level = (int)num(optarg, "--level"); break;
		case 's': sessions = num(optarg, "--sessions"); break;
		case 'S': scan_dir = optarg; break;
		case 'p': pubkey = optarg; break;
		case 'u': upto = num(optarg, "--upto"); break;
		case 'D': dump_dir = optarg; break;
		case 'f':
			if (!strcmp(optarg, "seal"))
				cfg.fsync = JOURNAL_FSYNC_SEAL;
			else if (!strcmp(optarg, "always"))
				cfg.fsync = JOURNAL_FSYNC_ALWAYS;
			else if (!strcmp(optarg, "none"))
				cfg.fsync = JOURNAL_FSYNC_NONE;
			else
				return fprintf(stderr, "journal_writer: --fsync %s: seal, always or none\n", optarg), 2;
			break;
		default: return 2;
		}
	}
	if (scan_dir)
		return scan(scan_dir, pubkey, upto);
	if (dump_dir)
		return dump(dump_dir);
	if (!cfg.dir || !cfg.key_path || sessions == 0)
		return fprintf(stderr, "journal_writer: --journal and --key are required\n"), 2;
	if (create && (rc = keys_create(cfg.key_path)) < 0 && rc != -EEXIST)
		return fprintf(stderr, "journal_writer: %s: %s\n", cfg.key_path, strerror(-rc)), 1;
	for (unsigned i = 0; i < VARIANTS; i++) {
		rec_init(&recs[i]);
		build(&recs[i], i, (unsigned)sessions, clock_ns(CLOCK_REALTIME) + i * 1000ull);
		bytes[i] = rec_finish(&recs[i], &lens[i]);
		total += lens[i];
	}
	rc = journal_open(&j, &cfg);
	if (rc < 0)
		return fprintf(stderr, "journal_writer: %s\n", err), 1;
	t0 = clock_ns(CLOCK_REALTIME);
	c0 = cpu_seconds();
	for (unsigned long long i = 0; i < count; i++) {
		rc = journal_append(j, bytes[i % VARIANTS], lens[i % VARIANTS], NULL);
		if (rc < 0)
			return fprintf(stderr, "journal_writer: append: %s\n", strerror(-rc)), 1;
	}
	rc = journal_close(j);
	t1 = clock_ns(CLOCK_REALTIME);
	c1 = cpu_seconds();
	if (rc < 0)
		return fprintf(stderr, "journal_writer: close: %s\n", strerror(-rc)), 1;
	disk = dir_bytes(cfg.dir);
	printf("journal_writer: %llu records (%.0f bytes avg) in %.3f s: %.0f records/s, %.0f records per CPU second, "
	       "%.1f bytes on disk per record\n",
	       count, (double)total / VARIANTS, (double)(t1 - t0) / 1e9, (double)count / ((double)(t1 - t0) / 1e9),
	       (double)count / (c1 - c0 > 0 ? c1 - c0 : 1e-9), count ? (double)disk / (double)count : 0.0);
	for (unsigned i = 0; i < VARIANTS; i++)
		rec_free(&recs[i]);
	return 0;
}
