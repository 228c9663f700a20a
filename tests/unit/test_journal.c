#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <endian.h>
#include <libdeflate.h>

#include "journal/journal.h"
#include "journal/keys.h"
#include "journal/segment.h"

struct fixture {
	char top[64], dir[96], key[96], pub[96];
	struct journal_config cfg;
	char err[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->top, sizeof(f->top), "/tmp/test_journal.XXXXXX");
	assert_non_null(mkdtemp(f->top));
	snprintf(f->dir, sizeof(f->dir), "%s/j", f->top);
	snprintf(f->key, sizeof(f->key), "%s/signing.key", f->top);
	snprintf(f->pub, sizeof(f->pub), "%s/signing.pub", f->top);
	assert_int_equal(keys_create(f->key), 0);
	journal_config_defaults(&f->cfg);
	f->cfg.dir = f->dir;
	f->cfg.key_path = f->key;
	f->cfg.err = f->err;
	f->cfg.err_len = sizeof(f->err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->top);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Record i: a msgpack map whose size varies with i. */
static const void *make_record(struct rec *r, unsigned i, size_t *len)
{
	uint8_t blob[3000];

	memset(blob, (int)(i & 0xff), sizeof(blob));
	rec_begin(r, "open", 1000 + i);
	rec_str(r, "session", "00000000000000aa");
	rec_uint(r, "i", i);
	rec_bytes(r, "path", blob, (i * 37) % sizeof(blob));
	return rec_finish(r, len);
}

static bool is_type(const struct journal_entry *e, const char *type)
{
	msgpack_zone zone;
	msgpack_object o;
	bool yes;

	msgpack_zone_init(&zone, 1024);
	yes = rec_unpack(e->rec, e->len, &zone, &o) == 0 && rec_is(&o, "type", type);
	msgpack_zone_destroy(&zone);
	return yes;
}

static bool is_journal_record(const struct journal_entry *e)
{
	return is_type(e, "seal") || is_type(e, "epoch") || is_type(e, "recovery");
}

/* Reads the whole journal: every record's bytes in seq order, no faults. */
static void expect_records(struct fixture *f, unsigned n, enum journal_seal_state want)
{
	struct journal_reader *r;
	struct journal_entry e;
	const struct journal_fault *faults;
	struct rec rb;
	uint64_t next_seq = 0;
	unsigned i = 0;

	rec_init(&rb);
	assert_int_equal(journal_reader_open(&r, f->dir, f->pub), 0);
	while (journal_reader_next(r, &e) == 1) {
		assert_int_equal(e.seq, next_seq++);
		assert_int_equal(e.seal, want);
		if (!is_journal_record(&e)) {
			size_t len;
			const void *p = make_record(&rb, i++, &len);

			assert_int_equal(e.len, len);
			assert_memory_equal(e.rec, p, len);
		}
	}
	assert_int_equal(i, n);
	journal_reader_check_end(r, false);
	if (journal_reader_faults(r, &faults))
		fail_msg("fault at seq %llu: %s", (unsigned long long)faults[0].seq, faults[0].what);
	journal_reader_close(r);
	rec_free(&rb);
}

static void append_records(struct journal *j, unsigned from, unsigned to)
{
	struct rec rb;
	uint64_t seq;

	rec_init(&rb);
	for (unsigned i = from; i < to; i++) {
		size_t len;
		const void *p = make_record(&rb, i, &len);

		assert_int_equal(journal_append(j, p, len, &seq), 0);
	}
	rec_free(&rb);
}

static void test_journal_round_trip_reads_records_back_sealed(void **state)
{
	struct fixture *f = *state;
	struct journal *j;

	f->cfg.seal_every = 300;
	f->cfg.epoch_seals = 4;
	f->cfg.segment_bytes = 64 << 10;
	f->cfg.block_bytes = 8192;
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 0, 5000);
	assert_int_equal(journal_close(j), 0);
	expect_records(f, 5000, JOURNAL_SEALED);
	/* reopening continues the same journal */
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 5000, 6000);
	assert_int_equal(journal_close(j), 0);
	expect_records(f, 6000, JOURNAL_SEALED);
}

static void test_journal_reader_without_key_reports_unsealed(void **state)
{
	struct fixture *f = *state;
	struct journal_reader *r;
	struct journal_entry e;
	struct journal *j;
	unsigned records = 0, seals = 0;

	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 0, 10);
	assert_int_equal(journal_close(j), 0);
	assert_int_equal(journal_reader_open(&r, f->dir, NULL), 0);
	while (journal_reader_next(r, &e) == 1) {
		assert_int_equal(e.seal, JOURNAL_UNSEALED);
		if (is_type(&e, "seal"))
			seals++;
		else if (!is_journal_record(&e))
			records++;
	}
	journal_reader_close(r);
	/* a reader that reads nothing must not pass for one that reads unsealed */
	assert_int_equal(records, 10);
	assert_true(seals >= 1);
}

static void test_journal_open_without_key_is_enokey(void **state)
{
	struct fixture *f = *state;
	struct journal *j;

	f->cfg.key_path = "/nonexistent/signing.key";
	assert_int_equal(journal_open(&j, &f->cfg), -ENOKEY);
	assert_non_null(strstr(f->err, "/nonexistent/signing.key"));
}

static void test_journal_open_with_another_journals_key_is_rejected(void **state)
{
	struct fixture *f = *state;
	char other[128];
	struct journal *j;

	assert_int_equal(journal_open(&j, &f->cfg), 0);
	assert_int_equal(journal_close(j), 0);
	snprintf(other, sizeof(other), "%s/other.key", f->top);
	assert_int_equal(keys_create(other), 0);
	f->cfg.key_path = other;
	assert_int_equal(journal_open(&j, &f->cfg), -EKEYREJECTED);
	assert_non_null(strstr(f->err, "is not the key of journal"));
}

static void test_keys_evolution_overwrites_the_old_seed_in_place(void **state)
{
	struct fixture *f = *state;
	uint8_t head[JF_HASH_LEN] = { 1 }, file[JF_KEY_FILE_SIZE];
	struct seal_epoch e;
	struct keys k, old;
	struct stat st0, st1;
	int fd;

	assert_int_equal(keys_load(f->key, &k), 0);
	old = k;
	assert_int_equal(stat(f->key, &st0), 0);
	assert_int_equal(keys_evolve(f->key, &k, 42, head, 7, &e), 0);
	assert_int_equal(stat(f->key, &st1), 0);
	assert_int_equal(st0.st_ino, st1.st_ino);
	assert_int_equal(k.epoch, 1);
	assert_true(seal_epoch_verify(&e, old.pub));
	fd = open(f->key, O_RDONLY | O_CLOEXEC);
	assert_int_equal(read(fd, file, sizeof(file)), (ssize_t)sizeof(file));
	close(fd);
	assert_null(memmem(file, sizeof(file), old.seed, JF_SEED_LEN));
	assert_non_null(memmem(file, sizeof(file), k.seed, JF_SEED_LEN));
	keys_wipe(&k);
	keys_wipe(&old);
}

static void test_keys_public_key_file_of_wrong_format_is_ebadmsg(void **state)
{
	struct fixture *f = *state;
	uint8_t pub[JOURNAL_PUB_LEN];
	char path[128];
	FILE *fp;

	assert_int_equal(keys_read_pub(f->pub, pub), 0);
	snprintf(path, sizeof(path), "%s/bad.pub", f->top);
	fp = fopen(path, "we");
	fputs(JOURNAL_PUB_PREFIX "zz\n", fp);
	fclose(fp);
	assert_int_equal(keys_read_pub(path, pub), -EBADMSG);
	assert_int_equal(keys_read_pub(f->key, pub), -EBADMSG);
	assert_int_equal(keys_load(f->pub, &(struct keys){ 0 }), -EBADMSG);
}

/* sandtraild --create-key runs under the unit's UMask=0077: the secret
 * half stays root's, the public half is for anyone to verify with. */
static void test_keys_create_under_a_strict_umask_leaves_the_pub_readable(void **state)
{
	struct fixture *f = *state;
	char key[128], pub[128];
	struct stat st;
	mode_t old = umask(077);

	snprintf(key, sizeof(key), "%s/strict.key", f->top);
	snprintf(pub, sizeof(pub), "%s/strict.pub", f->top);
	assert_int_equal(keys_create(key), 0);
	umask(old);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
}

/* The writer dies after storing the next epoch's key but before its
 * certificate reached the journal: open must write the certificate. */
static void test_journal_resumes_a_key_evolution_cut_by_a_crash(void **state)
{
	struct fixture *f = *state;
	uint8_t head[JF_HASH_LEN];
	struct segment_reader *sr;
	struct segment_block b;
	struct segment_frame fr;
	struct segment_info info;
	char name[JF_SEGMENT_NAME_LEN + 1];
	uint64_t *firsts, next = 0;
	struct seal_epoch e;
	struct journal *j;
	struct keys k;
	size_t n;
	int dirfd;

	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 0, 100);
	assert_int_equal(journal_close(j), 0);
	dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(segment_list(dirfd, &firsts, &n), 0);
	segment_name(name, firsts[n - 1]);
	free(firsts);
	assert_int_equal(segment_reader_open(&sr, dirfd, name), 0);
	assert_int_equal(segment_reader_header(sr, &info), 1);
	while (segment_reader_next(sr, &b) == 1) {
		size_t off = 0;
		uint32_t idx = 0;

		while (segment_next_frame(&b, &off, &idx, &fr) == 1) {
			next = fr.seq + 1;
			memcpy(head, fr.hash, JF_HASH_LEN);
		}
	}
	segment_reader_close(sr);
	close(dirfd);
	assert_int_equal(keys_load(f->key, &k), 0);
	assert_int_equal(keys_evolve(f->key, &k, next, head, 99, &e), 0);
	keys_wipe(&k);

	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 100, 200);
	assert_int_equal(journal_close(j), 0);
	expect_records(f, 200, JOURNAL_SEALED);
}

/* kill -9 in a child mid-write, then a torn block at the end of the file. */
static void test_journal_cuts_a_torn_tail_and_records_it(void **state)
{
	struct fixture *f = *state;
	static const uint8_t torn[] = { 'S', 'T', 'J', 'B', 1, 0, 0, 0, 0x40, 0, 0, 0, 0x99 };
	char name[JF_SEGMENT_NAME_LEN + 1], path[256];
	struct journal_reader *r;
	struct journal_entry e;
	uint64_t *firsts, discarded = 0;
	struct journal *j;
	size_t n;
	int dirfd, fd, status, recoveries = 0;
	pid_t pid;

	f->cfg.seal_every = 50;
	pid = fork();
	if (pid == 0) {
		if (journal_open(&j, &f->cfg) < 0)
			_exit(1);
		append_records(j, 0, 120);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(segment_list(dirfd, &firsts, &n), 0);
	segment_name(name, firsts[n - 1]);
	free(firsts);
	close(dirfd);
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_int_equal(write(fd, torn, sizeof(torn)), (ssize_t)sizeof(torn));
	close(fd);

	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 0, 10);
	assert_int_equal(journal_close(j), 0);
	assert_int_equal(journal_reader_open(&r, f->dir, f->pub), 0);
	while (journal_reader_next(r, &e) == 1) {
		msgpack_zone zone;
		msgpack_object o;

		assert_int_equal(e.seal, JOURNAL_SEALED);
		msgpack_zone_init(&zone, 1024);
		if (rec_unpack(e.rec, e.len, &zone, &o) == 0 && rec_is(&o, "type", "recovery")) {
			recoveries++;
			assert_true(rec_get_uint(&o, "discarded_bytes", &discarded));
		}
		msgpack_zone_destroy(&zone);
	}
	journal_reader_check_end(r, false);
	assert_int_equal(journal_reader_faults(r, &(const struct journal_fault *){ NULL }), 0);
	journal_reader_close(r);
	assert_int_equal(recoveries, 1);
	assert_int_equal(discarded, sizeof(torn));
}

/* replay --follow: records appended after the reader reached the end,
 * across a rotation, come out of later calls. */
static void test_journal_reader_follows_a_live_journal_across_rotation(void **state)
{
	struct fixture *f = *state;
	struct journal_reader *r;
	struct journal_entry e;
	struct journal *j;
	unsigned user = 0;
	int rc;

	f->cfg.seal_ms = 0; /* every tick seals, which makes what was appended visible */
	f->cfg.segment_bytes = 8192;
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 0, 40);
	assert_int_equal(journal_tick(j), 0);
	assert_int_equal(journal_reader_open(&r, f->dir, f->pub), 0);
	for (int round = 1; round <= 4; round++) {
		while ((rc = journal_reader_next(r, &e)) == 1)
			user += !is_journal_record(&e);
		assert_int_equal(rc, 0);
		assert_int_equal(user, 40u * (unsigned)round);
		append_records(j, 40u * (unsigned)round, 40u * (unsigned)(round + 1));
		assert_int_equal(journal_tick(j), 0);
	}
	assert_int_equal(journal_close(j), 0);
	while (journal_reader_next(r, &e) == 1)
		user += !is_journal_record(&e);
	assert_int_equal(user, 200);
	journal_reader_close(r);
}

/* Waits (poll on journal_fd, at most 5 s) until every seq below want is durable. */
static uint64_t wait_durable(struct journal *j, uint64_t want)
{
	uint64_t through = 0, n;

	for (int i = 0; i < 500; i++) {
		struct pollfd pfd = { .fd = journal_fd(j), .events = POLLIN };

		assert_int_equal(journal_durable(j, &through), 0);
		if (through >= want)
			break;
		if (poll(&pfd, 1, 10) > 0)
			assert_int_equal(read(pfd.fd, &n, sizeof(n)), (ssize_t)sizeof(n));
	}
	return through;
}

/* The disk waits run on the syncer's thread: a seal asked for is written
 * at once and becomes durable, also across rotations (the rotated segment's
 * fd passes to the syncer, which closes it). */
static void test_journal_durable_follows_seals_made_on_request(void **state)
{
	struct fixture *f = *state;
	struct journal_reader *r;
	struct journal_entry e;
	struct journal *j;
	struct rec rec;
	uint64_t seq = 0, through;
	size_t len;
	unsigned seen = 0;

	f->cfg.seal_ms = 3600000; /* no seal unless asked */
	f->cfg.segment_bytes = 8192;
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	assert_true(journal_fd(j) >= 0);
	rec_init(&rec);
	for (unsigned round = 0; round < 5; round++) {
		for (unsigned i = 0; i < 20; i++) {
			const void *p = make_record(&rec, round * 20 + i, &len);

			assert_int_equal(journal_append(j, p, len, &seq), 0);
		}
		assert_int_equal(journal_durable(j, &through), 0);
		assert_true(through <= seq);
		assert_int_equal(journal_seal(j), 0);
		assert_true(wait_durable(j, seq + 1) > seq);
	}
	/* what is durable is readable, sealed */
	assert_int_equal(journal_reader_open(&r, f->dir, f->pub), 0);
	while (journal_reader_next(r, &e) == 1) {
		if (is_journal_record(&e))
			continue;
		assert_int_equal(e.seal, JOURNAL_SEALED);
		seen++;
	}
	assert_int_equal(seen, 100);
	journal_reader_close(r);
	rec_free(&rec);
	assert_int_equal(journal_close(j), 0);
}

/* --fsync none: no thread; a seal makes what it covers durable at once. */
static void test_journal_durable_without_fsync_is_the_last_seal(void **state)
{
	struct fixture *f = *state;
	struct journal *j;
	struct rec rec;
	uint64_t seq, through;
	size_t len;
	const void *p;

	f->cfg.seal_ms = 3600000;
	f->cfg.fsync = JOURNAL_FSYNC_NONE;
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	assert_int_equal(journal_fd(j), -1);
	rec_init(&rec);
	p = make_record(&rec, 1, &len);
	assert_int_equal(journal_append(j, p, len, &seq), 0);
	assert_int_equal(journal_durable(j, &through), 0);
	assert_true(through <= seq);
	assert_int_equal(journal_seal(j), 0);
	assert_int_equal(journal_durable(j, &through), 0);
	assert_true(through > seq);
	rec_free(&rec);
	assert_int_equal(journal_close(j), 0);
}

/* Follow mode: nothing comes out before its seal; the seal itself comes
 * with what it covers. */
static void test_journal_follow_yields_only_sealed_records(void **state)
{
	struct fixture *f = *state;
	struct journal_reader *r;
	struct journal_entry e;
	struct journal *j;
	uint64_t last = 0;
	int rc;

	f->cfg.seal_ms = 60000; /* no seal before the close */
	f->cfg.seal_every = 1u << 30;
	f->cfg.block_bytes = 4096; /* records reach the file in blocks long before a seal */
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 0, 100);
	assert_int_equal(journal_reader_open(&r, f->dir, f->pub), 0);
	assert_int_equal(journal_reader_follow(r, 0), 0);
	/* blocks on disk, but nothing is sealed yet */
	assert_int_equal(journal_reader_next(r, &e), 0);
	f->cfg.seal_ms = 0;
	assert_int_equal(journal_close(j), 0); /* final seal */
	while ((rc = journal_reader_next(r, &e)) == 1) {
		assert_int_equal(e.seal, JOURNAL_SEALED);
		last = e.seq;
		if (e.kind == JOURNAL_KIND_SEAL)
			assert_true(is_type(&e, "seal"));
	}
	assert_int_equal(rc, 0);
	assert_int_equal(last, 101); /* epoch, 100 records, the final seal */
	assert_int_equal(e.kind, JOURNAL_KIND_SEAL);
	journal_reader_close(r);
}

/* Follow from a seq in a later segment: reading starts there, trusting its
 * header, without faults, and the journal id is the one of every header. */
static void test_journal_follow_starts_at_the_segment_of_a_seq(void **state)
{
	struct fixture *f = *state;
	const struct journal_fault *faults;
	struct journal_reader *r, *whole;
	struct journal_entry e;
	struct journal *j;
	uint8_t id[JOURNAL_ID_LEN], id2[JOURNAL_ID_LEN];
	uint64_t first = UINT64_MAX, n = 0;
	int rc;

	f->cfg.seal_ms = 0;
	f->cfg.segment_bytes = 8192;
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	for (unsigned i = 0; i < 200; i += 10) {
		append_records(j, i, i + 10);
		assert_int_equal(journal_tick(j), 0);
	}
	assert_int_equal(journal_close(j), 0);
	assert_int_equal(journal_reader_open(&r, f->dir, f->pub), 0);
	assert_int_equal(journal_reader_id(r, id), -ENODATA);
	assert_int_equal(journal_reader_follow(r, 150), 0);
	while ((rc = journal_reader_next(r, &e)) == 1) {
		if (first == UINT64_MAX)
			first = e.seq;
		assert_int_equal(e.seq, first + n++);
		assert_int_equal(e.seal, JOURNAL_SEALED);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(first, 150);
	assert_int_equal(journal_reader_faults(r, &faults), 0);
	assert_int_equal(journal_reader_id(r, id), 0);
	journal_reader_close(r);
	/* the id is the one the epoch 0 record carries, checked by a whole read */
	assert_int_equal(journal_reader_open(&whole, f->dir, f->pub), 0);
	while (journal_reader_next(whole, &e) == 1)
		;
	assert_int_equal(journal_reader_faults(whole, &faults), 0);
	assert_int_equal(journal_reader_id(whole, id2), 0);
	assert_memory_equal(id, id2, JOURNAL_ID_LEN);
	journal_reader_close(whole);
}

/* A segment of another journal (its header names another id) is a fault,
 * even when its seqs would fit. */
static void test_journal_segment_of_another_journal_is_a_fault(void **state)
{
	struct fixture *f = *state;
	const struct journal_fault *faults;
	struct segment_info info = { .first_seq = 0 };
	struct journal_reader *r;
	struct journal_entry e;
	struct journal *j;
	char name[JF_SEGMENT_NAME_LEN + 1];
	int fd, dirfd;

	f->cfg.seal_ms = 0;
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 0, 10);
	assert_int_equal(journal_close(j), 0);
	/* an empty segment after the last one, from another journal */
	dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	assert_int_equal(journal_reader_open(&r, f->dir, f->pub), 0);
	while (journal_reader_next(r, &e) == 1)
		info.first_seq = e.seq + 1;
	journal_reader_close(r);
	memset(info.journal_id, 0x5a, JOURNAL_ID_LEN);
	segment_name(name, info.first_seq);
	fd = segment_create(dirfd, name, &info);
	assert_true(fd >= 0);
	close(fd);
	close(dirfd);
	assert_int_equal(journal_reader_open(&r, f->dir, f->pub), 0);
	while (journal_reader_next(r, &e) == 1)
		;
	assert_true(journal_reader_faults(r, &faults) >= 1);
	assert_non_null(strstr(faults[0].what, "segment of journal 5a5a5a5a"));
	journal_reader_close(r);
}

/* Rewrites every block of segment name in f's journal with a zlib stream,
 * as journals were written before zstd, under the codec flags given. */
static void rewrite_as_zlib(struct fixture *f, const char *name, uint32_t flags)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(1);
	struct segment_reader *r;
	struct segment_block b;
	uint8_t hdr[sizeof(struct jf_segment_header)], *z;
	char path[256], tmp[256];
	int dirfd, fd, rc;

	dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	snprintf(tmp, sizeof(tmp), "%s/zlib.tmp", f->top);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(read(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	close(fd);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	assert_int_equal(segment_reader_open(&r, dirfd, name), 0);
	assert_int_equal(segment_reader_header(r, &(struct segment_info){ 0 }), 1);
	while ((rc = segment_reader_next(r, &b)) == 1) {
		size_t zlen, hlen = (size_t)b.nrec * JF_HASH_LEN;
		struct jf_block_header h = {
			.magic = htole32(JF_BLOCK_MAGIC),
			.flags = htole32(flags),
			.ulen = htole32((uint32_t)b.ulen),
			.first_seq = htole64(b.first_seq),
			.nrec = htole32(b.nrec),
		};
		uint32_t crc;

		z = malloc(libdeflate_zlib_compress_bound(c, b.ulen));
		zlen = libdeflate_zlib_compress(c, b.frames, b.ulen, z, libdeflate_zlib_compress_bound(c, b.ulen));
		h.zlen = htole32((uint32_t)zlen);
		crc = libdeflate_crc32(0, &h, offsetof(struct jf_block_header, crc));
		crc = libdeflate_crc32(crc, z, zlen);
		h.crc = htole32(libdeflate_crc32(crc, b.hashes, hlen));
		assert_int_equal(writev(fd, (struct iovec[]){ { &h, sizeof(h) }, { z, zlen }, { (void *)b.hashes, hlen } }, 3),
				 (ssize_t)(sizeof(h) + zlen + hlen));
		free(z);
	}
	assert_int_equal(rc, 0);
	segment_reader_close(r);
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
	close(dirfd);
	libdeflate_free_compressor(c);
}

/* The name of the journal's first segment. */
static void first_segment(struct fixture *f, char *name)
{
	uint64_t *firsts;
	size_t n;
	int dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_int_equal(segment_list(dirfd, &firsts, &n), 0);
	assert_true(n >= 1);
	segment_name(name, firsts[0]);
	free(firsts);
	close(dirfd);
}

/* Journals written before zstd (zlib blocks) still read, seals and all, and
 * the writer continues them with zstd blocks. */
static void test_journal_zlib_blocks_of_the_previous_format_still_read(void **state)
{
	struct fixture *f = *state;
	char name[JF_SEGMENT_NAME_LEN + 1];
	struct journal *j;

	f->cfg.seal_every = 100;
	f->cfg.block_bytes = 8192;
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 0, 400);
	assert_int_equal(journal_close(j), 0);
	first_segment(f, name);
	rewrite_as_zlib(f, name, JF_BLOCK_ZLIB);
	expect_records(f, 400, JOURNAL_SEALED);
	assert_int_equal(journal_open(&j, &f->cfg), 0);
	append_records(j, 400, 500);
	assert_int_equal(journal_close(j), 0);
	expect_records(f, 500, JOURNAL_SEALED);
}

/* A block's flags name its codec: a zlib stream flagged zstd, or flags
 * naming two codecs, is a damaged block, not records. */
static void test_journal_block_of_the_wrong_codec_is_a_fault(void **state)
{
	static const uint32_t wrong[] = { JF_BLOCK_ZSTD, JF_BLOCK_ZLIB | JF_BLOCK_ZSTD };
	struct fixture *f = *state;
	char name[JF_SEGMENT_NAME_LEN + 1];

	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		const struct journal_fault *faults;
		struct journal_reader *r;
		struct journal_entry e;
		struct journal *j;
		unsigned records = 0;
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		assert_int_equal(system(cmd), 0);
		assert_int_equal(journal_open(&j, &f->cfg), 0);
		append_records(j, 0, 10);
		assert_int_equal(journal_close(j), 0);
		first_segment(f, name);
		rewrite_as_zlib(f, name, wrong[i]);
		assert_int_equal(journal_reader_open(&r, f->dir, f->pub), 0);
		while (journal_reader_next(r, &e) == 1)
			records++;
		journal_reader_check_end(r, false);
		assert_int_equal(records, 0);
		assert_true(journal_reader_faults(r, &faults) >= 1);
		journal_reader_close(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_journal_round_trip_reads_records_back_sealed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_reader_without_key_reports_unsealed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_open_without_key_is_enokey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_open_with_another_journals_key_is_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_evolution_overwrites_the_old_seed_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_public_key_file_of_wrong_format_is_ebadmsg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_create_under_a_strict_umask_leaves_the_pub_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_resumes_a_key_evolution_cut_by_a_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_cuts_a_torn_tail_and_records_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_durable_follows_seals_made_on_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_durable_without_fsync_is_the_last_seal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_follow_yields_only_sealed_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_follow_starts_at_the_segment_of_a_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_segment_of_another_journal_is_a_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_zlib_blocks_of_the_previous_format_still_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_block_of_the_wrong_codec_is_a_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_reader_follows_a_live_journal_across_rotation, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
