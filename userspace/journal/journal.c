/* The journal writer: frames records into blocks, chains them, seals them,
 * evolves the signing key, rotates segments and recovers a crashed tail. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "journal.h"
#include "keys.h"
#include "record.h"
#include "retention.h"
#include "seal.h"
#include "segment.h"
#include "syncer.h"

struct journal {
	struct journal_config cfg;
	char *dir, *key_path;
	int dirfd, fd;              /* the directory, the active segment */
	char seg_name[JF_SEGMENT_NAME_LEN + 1];
	uint64_t seg_bytes;         /* size of the active segment */
	struct segment_writer *sw;
	struct syncer *syncer;      /* the disk waits, once the journal is open (fsync seal|always) */
	uint64_t durable;           /* fsync none: every seq below it is sealed and written */
	uint64_t synced_mark;       /* the last mark given to the syncer */
	struct crypto_sha256 *sha;
	struct keys key;
	struct rec rec;             /* the journal's own records */
	uint64_t next_seq;
	uint8_t head[JF_HASH_LEN];  /* chain hash of next_seq - 1 */
	uint32_t epoch;             /* as the journal has it so far (the key may be one ahead) */
	uint8_t epoch_pub[JOURNAL_PUB_LEN];
	uint8_t id[JOURNAL_ID_LEN];
	/* the block being filled */
	uint8_t *frames;
	size_t flen;
	uint8_t *hashes;
	uint32_t nrec, ncap;
	uint64_t block_first;
	/* sealing */
	uint64_t seal_from;         /* first seq the next seal covers */
	uint64_t unsealed;          /* records since the last seal */
	uint8_t last_kind;
	uint64_t last_seal_ms, epoch_start_ms;
	uint32_t seals_in_epoch;
	uint32_t appends;
	int broken;                 /* a failed write: the tail in memory is lost */
	int evolve_err;             /* the last key evolution failed (retried next epoch) */
	bool recovered;             /* opened after an unclean end: a recovery record says so */
};

/* What the last segment says about the journal's end. */
struct tail {
	uint64_t next_seq, seal_from, unsealed;
	uint8_t head[JF_HASH_LEN];
	uint32_t epoch;
	uint8_t pub[JOURNAL_PUB_LEN];
	uint8_t id[JOURNAL_ID_LEN];
	uint8_t last_kind;
	bool last_final;
	bool readonly;
	uint64_t good_end;          /* bytes of whole blocks */
	uint64_t tail_junk;         /* bytes after good_end */
	uint64_t discarded_bytes, discarded_records;
};

void journal_config_defaults(struct journal_config *cfg)
{
	*cfg = (struct journal_config){
		.seal_every = 262144,
		.seal_ms = 20,
		.segment_bytes = 64ull << 20,
		.fsync = JOURNAL_FSYNC_SEAL,
		.epoch_ms = 60000,
		.epoch_seals = 0,
		.block_bytes = 128u << 10,
		.compress_level = 1,
	};
}

__attribute__((format(printf, 3, 4))) static int fail(const struct journal_config *cfg, int rc, const char *fmt, ...)
{
	va_list ap;

	if (cfg->err && cfg->err_len) {
		va_start(ap, fmt);
		vsnprintf(cfg->err, cfg->err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int sync_segment(struct journal *j)
{
	return fdatasync(j->fd) < 0 ? -errno : 0;
}

/* What was written so far reaches the disk: on the syncer's thread once the
 * journal is open (mark: every seq below it is then durable), inline before.
 * dir: the directory too (a segment was created). */
static int sync_later(struct journal *j, bool dir, uint64_t mark)
{
	int rc;

	if (!j->syncer) {
		if (fdatasync(j->fd) < 0 || (dir && fsync(j->dirfd) < 0))
			return -errno;
		return 0;
	}
	rc = syncer_push(j->syncer, j->fd, dir ? j->dirfd : -1, false, mark > j->synced_mark ? mark : j->synced_mark);
	if (rc == 0 && mark > j->synced_mark)
		j->synced_mark = mark;
	return rc;
}

static int flush_block(struct journal *j)
{
	long n;

	if (j->nrec == 0)
		return 0;
	n = segment_write_block(j->sw, j->fd, j->block_first, j->nrec, j->frames, j->flen, j->hashes);
	if (n < 0) {
		/* never leave a partial block for the next one to follow */
		if (ftruncate(j->fd, (off_t)j->seg_bytes) < 0)
			n = -errno;
		j->broken = (int)n;
		return (int)n;
	}
	j->seg_bytes += (uint64_t)n;
	j->nrec = 0;
	j->flen = 0;
	return 0;
}

static int add_frame(struct journal *j, uint8_t kind, const void *payload, size_t len)
{
	struct jf_frame fr = { .len = htole32((uint32_t)len), .kind = kind, .seq = htole64(j->next_seq) };
	size_t need = sizeof(fr) + len;
	uint8_t *hash;
	int rc;

	if (j->nrec > 0 && (j->flen + need > j->cfg.block_bytes || j->nrec == j->ncap)) {
		rc = flush_block(j);
		if (rc < 0)
			return rc;
	}
	hash = j->hashes + (size_t)j->nrec * JF_HASH_LEN;
	rc = seal_chain(j->sha, j->head, &fr, payload, len, hash);
	if (rc < 0)
		return rc;
	memcpy(j->frames + j->flen, &fr, sizeof(fr));
	memcpy(j->frames + j->flen + sizeof(fr), payload, len);
	memcpy(j->head, hash, JF_HASH_LEN);
	if (j->nrec == 0)
		j->block_first = j->next_seq;
	j->nrec++;
	j->flen += need;
	j->next_seq++;
	j->last_kind = kind;
	return 0;
}

static int add_epoch_record(struct journal *j, const struct seal_epoch *e)
{
	size_t len;
	const void *p;

	int rc;

	seal_epoch_record(&j->rec, e);
	p = rec_finish(&j->rec, &len);
	j->unsealed++;
	rc = add_frame(j, JF_KIND_EPOCH, p, len);
	if (rc == 0) {
		j->epoch = e->epoch;
		memcpy(j->epoch_pub, e->pub, JOURNAL_PUB_LEN);
	}
	return rc;
}

static int write_seal(struct journal *j, bool final)
{
	struct seal_info s = {
		.ts_ns = clock_ns(CLOCK_REALTIME),
		.first = j->seal_from,
		.last = j->next_seq - 1,
		.epoch = j->key.epoch,
		.final = final,
	};
	uint64_t seq = j->next_seq;
	const void *p;
	size_t len;
	int rc;

	memcpy(s.head, j->head, JF_HASH_LEN);
	rc = seal_sign(&s, j->key.seed, j->key.pub);
	if (rc < 0)
		return rc;
	seal_record(&j->rec, &s);
	p = rec_finish(&j->rec, &len);
	rc = add_frame(j, JF_KIND_SEAL, p, len);
	if (rc < 0)
		return rc;
	j->seal_from = seq;
	j->unsealed = 0;
	j->seals_in_epoch++;
	j->last_seal_ms = mono_ms();
	rc = flush_block(j);
	/* a seal promises that what it covers is on disk */
	if (rc == 0 && final)
		rc = sync_segment(j);
	else if (rc == 0 && j->cfg.fsync != JOURNAL_FSYNC_NONE)
		rc = sync_later(j, false, j->next_seq);
	else if (rc == 0)
		j->durable = j->next_seq;
	if (rc < 0)
		j->broken = rc;
	return rc;
}

static void segment_info_now(const struct journal *j, struct segment_info *info)
{
	*info = (struct segment_info){
		.first_seq = j->next_seq,
		.created_ns = clock_ns(CLOCK_REALTIME),
		.seal_from = j->seal_from,
		.epoch = j->epoch,
	};
	memcpy(info->head, j->head, JF_HASH_LEN);
	memcpy(info->epoch_pub, j->epoch_pub, JOURNAL_PUB_LEN);
	memcpy(info->journal_id, j->id, JOURNAL_ID_LEN);
}

static int new_segment(struct journal *j)
{
	struct segment_info info;
	int fd;

	segment_info_now(j, &info);
	segment_name(j->seg_name, j->next_seq);
	fd = segment_create(j->dirfd, j->seg_name, &info);
	if (fd < 0)
		return fd;
	j->fd = fd;
	j->seg_bytes = sizeof(struct jf_segment_header);
	/* the header and the directory entry, durable with the segment's first seal */
	return j->cfg.fsync != JOURNAL_FSYNC_NONE ? sync_later(j, true, 0) : 0;
}

/* Called right after a seal: the closed segment ends with it. */
static int rotate(struct journal *j)
{
	int rc;

	if (fchmod(j->fd, 0440) < 0)
		return j->broken = -errno;
	/* the syncer may still be syncing it: it closes it after */
	if (!j->syncer || j->cfg.fsync == JOURNAL_FSYNC_NONE)
		close(j->fd);
	else if ((rc = syncer_push(j->syncer, j->fd, -1, true, j->synced_mark)) < 0)
		return j->broken = rc;
	j->fd = -1;
	rc = new_segment(j);
	if (rc < 0)
		j->broken = rc;
	return rc;
}

/* Called right after a seal: the new key's first record is its certificate. */
static int evolve(struct journal *j)
{
	struct seal_epoch e;
	int rc;

	j->seals_in_epoch = 0;
	j->epoch_start_ms = mono_ms();
	rc = keys_evolve(j->key_path, &j->key, j->next_seq, j->head, clock_ns(CLOCK_REALTIME), &e);
	j->evolve_err = rc;
	if (rc < 0)
		return rc;
	return add_epoch_record(j, &e);
}

static bool epoch_due(const struct journal *j, uint64_t now)
{
	return (j->cfg.epoch_ms && now - j->epoch_start_ms >= j->cfg.epoch_ms) ||
	       (j->cfg.epoch_seals && j->seals_in_epoch >= j->cfg.epoch_seals);
}

static int seal_due(struct journal *j)
{
	int rc = 0;

	if (j->last_kind != JF_KIND_SEAL)
		rc = write_seal(j, false);
	if (rc == 0 && j->seg_bytes >= j->cfg.segment_bytes)
		rc = rotate(j);
	if (rc == 0 && epoch_due(j, mono_ms()))
		rc = evolve(j);
	return rc;
}

int journal_append(struct journal *j, const void *rec, size_t len, uint64_t *seq)
{
	uint64_t s = j->next_seq;
	int rc;

	if (j->broken)
		return j->broken;
	if (len > JF_RECORD_MAX)
		return -E2BIG;
	rc = add_frame(j, JF_KIND_RECORD, rec, len);
	if (rc < 0)
		return rc;
	if (seq)
		*seq = s;
	j->unsealed++;
	if (j->cfg.fsync == JOURNAL_FSYNC_ALWAYS) {
		/* written now, on disk at the syncer's next batch (group commit) */
		rc = flush_block(j);
		if (rc == 0)
			rc = sync_later(j, false, 0);
		if (rc < 0)
			return j->broken = rc;
	}
	/* the clock is read every 64 records, not every record */
	if (j->unsealed >= j->cfg.seal_every)
		seal_due(j);
	else if ((++j->appends & 63) == 0)
		journal_tick(j);
	/* the record is stored; only a journal that lost its tail fails it
	 * (a failed key evolution is retried and journal_tick reports it) */
	return j->broken;
}

int journal_seal(struct journal *j)
{
	if (j->broken)
		return j->broken;
	seal_due(j);
	return j->broken;
}

int journal_fd(const struct journal *j)
{
	return j->syncer ? syncer_fd(j->syncer) : -1;
}

int journal_durable(struct journal *j, uint64_t *through)
{
	int rc;

	*through = j->durable;
	if (!j->syncer || j->cfg.fsync == JOURNAL_FSYNC_NONE)
		return j->broken;
	rc = syncer_done(j->syncer, through);
	if (rc < 0 && !j->broken)
		j->broken = rc;
	return j->broken;
}

int journal_tick(struct journal *j)
{
	uint64_t now, through;

	if (j->broken || journal_durable(j, &through) < 0)
		return j->broken;
	now = mono_ms();
	if ((j->unsealed > 0 && now - j->last_seal_ms >= j->cfg.seal_ms) || epoch_due(j, now))
		seal_due(j);
	return j->broken ? j->broken : j->evolve_err;
}

static void journal_free(struct journal *j)
{
	syncer_stop(j->syncer);
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	segment_writer_free(j->sw);
	crypto_sha256_free(j->sha);
	rec_free(&j->rec);
	keys_wipe(&j->key);
	free(j->frames);
	free(j->hashes);
	free(j->dir);
	free(j->key_path);
	free(j);
}

int journal_close(struct journal *j)
{
	int rc = syncer_stop(j->syncer);

	j->syncer = NULL;
	if (rc == 0)
		rc = j->broken;
	if (rc == 0)
		rc = write_seal(j, true);
	if (rc == 0 && fchmod(j->fd, 0440) < 0)
		rc = -errno;
	if (rc == 0 && fsync(j->dirfd) < 0)
		rc = -errno;
	journal_free(j);
	return rc;
}

uint64_t journal_next_seq(const struct journal *j)
{
	return j->next_seq;
}

void journal_id(const struct journal *j, uint8_t id[JOURNAL_ID_LEN])
{
	memcpy(id, j->id, JOURNAL_ID_LEN);
}

bool journal_recovered(const struct journal *j)
{
	return j->recovered;
}

/* Reads the last segment to where the journal ends; cuts nothing. -ENODATA:
 * its header never made it to disk whole (a crash while rotating). */
static int scan_tail(struct journal *j, const char *name, struct tail *t)
{
	struct segment_reader *r;
	struct segment_info info;
	struct segment_block b;
	struct stat st;
	int rc;

	if (fstatat(j->dirfd, name, &st, 0) < 0)
		return fail(&j->cfg, -errno, "%s/%s: %s", j->dir, name, strerror(errno));
	rc = segment_reader_open(&r, j->dirfd, name);
	if (rc < 0)
		return fail(&j->cfg, rc, "%s/%s: %s", j->dir, name, strerror(-rc));
	rc = segment_reader_header(r, &info);
	if (rc <= 0) {
		segment_reader_close(r);
		if ((rc == 0 || rc == -EBADMSG) && (uint64_t)st.st_size <= sizeof(struct jf_segment_header)) {
			t->discarded_bytes += (uint64_t)st.st_size;
			return -ENODATA;
		}
		if (rc == -EPROTO)
			return fail(&j->cfg, rc, "%s/%s: journal format of another sandtrail version (this one "
				    "writes version %d): move the journal aside and start a new one", j->dir, name, JF_VERSION);
		return fail(&j->cfg, rc == 0 ? -EBADMSG : rc, "%s/%s: damaged segment header", j->dir, name);
	}
	t->readonly = !(st.st_mode & S_IWUSR);
	t->next_seq = info.first_seq;
	t->seal_from = info.seal_from;
	t->epoch = info.epoch;
	memcpy(t->head, info.head, JF_HASH_LEN);
	memcpy(t->pub, info.epoch_pub, JOURNAL_PUB_LEN);
	memcpy(t->id, info.journal_id, JOURNAL_ID_LEN);
	t->last_kind = info.first_seq > 0 && info.seal_from == info.first_seq - 1 ? JF_KIND_SEAL : JF_KIND_RECORD;
	t->last_final = false;
	t->unsealed = t->last_kind == JF_KIND_SEAL ? 0 : info.first_seq - info.seal_from;
	while ((rc = segment_reader_next(r, &b)) == 1) {
		struct segment_frame f;
		size_t off = 0;
		uint32_t idx = 0;

		while ((rc = segment_next_frame(&b, &off, &idx, &f)) == 1) {
			struct seal_info s;
			struct seal_epoch e;

			t->next_seq = f.seq + 1;
			memcpy(t->head, f.hash, JF_HASH_LEN);
			t->last_kind = f.kind;
			t->unsealed++;
			if (f.kind == JF_KIND_SEAL && seal_parse(f.payload, f.len, &s) == 0) {
				t->seal_from = f.seq;
				t->unsealed = 0;
				t->last_final = s.final;
			} else if (f.kind == JF_KIND_EPOCH && seal_epoch_parse(f.payload, f.len, &e) == 0) {
				t->epoch = e.epoch;
				memcpy(t->pub, e.pub, JOURNAL_PUB_LEN);
			}
		}
		if (rc < 0)
			break;
	}
	t->good_end = segment_reader_offset(r);
	if (rc == -EBADMSG) {
		/* damage followed by whole blocks is not a torn tail: keep it for verify */
		uint64_t bad = segment_reader_offset(r);

		rc = segment_reader_resync(r);
		if (rc != 0) {
			segment_reader_close(r);
			return fail(&j->cfg, rc < 0 ? rc : -EBADMSG,
				    "%s/%s: damaged block at offset %llu followed by intact ones (run sandtrail verify)",
				    j->dir, name, (unsigned long long)bad);
		}
	} else if (rc < 0) {
		segment_reader_close(r);
		return fail(&j->cfg, rc, "%s/%s: %s", j->dir, name, strerror(-rc));
	}
	t->discarded_records += segment_reader_peek_nrec(r);
	t->tail_junk = (uint64_t)st.st_size - t->good_end;
	t->discarded_bytes += t->tail_junk;
	segment_reader_close(r);
	return 0;
}

static int write_recovery(struct journal *j, const struct tail *t, const char *name)
{
	const void *p;
	size_t len;

	rec_begin(&j->rec, "recovery", clock_ns(CLOCK_REALTIME));
	rec_str(&j->rec, "segment", name);
	rec_uint(&j->rec, "offset", t->good_end);
	rec_uint(&j->rec, "discarded_bytes", t->discarded_bytes);
	rec_uint(&j->rec, "discarded_records", t->discarded_records);
	rec_uint(&j->rec, "unsealed", t->unsealed);
	p = rec_finish(&j->rec, &len);
	j->unsealed++;
	j->recovered = true;
	return add_frame(j, JF_KIND_RECOVERY, p, len);
}

static int start_new_journal(struct journal *j, const struct tail *t)
{
	struct seal_epoch e = { .ts_ns = clock_ns(CLOCK_REALTIME) };
	char kid[JOURNAL_KEY_ID_STR];
	int rc;

	if (j->key.epoch != 0) {
		seal_key_id(j->key.root_pub, kid);
		return fail(&j->cfg, -EKEYREJECTED,
			    "key file %s is at epoch %u of another journal (root key id %s); %s has none",
			    j->key_path, j->key.epoch, kid, j->dir);
	}
	memcpy(j->epoch_pub, j->key.pub, JOURNAL_PUB_LEN);
	if (getrandom(j->id, sizeof(j->id), 0) != (ssize_t)sizeof(j->id))
		return fail(&j->cfg, -EIO, "getrandom: cannot draw the journal's id");
	memcpy(e.journal_id, j->id, JOURNAL_ID_LEN);
	rc = new_segment(j);
	if (rc < 0)
		return fail(&j->cfg, rc, "%s/%s: %s", j->dir, j->seg_name, strerror(-rc));
	memcpy(e.pub, j->key.pub, JOURNAL_PUB_LEN);
	rc = add_epoch_record(j, &e);
	if (rc == 0 && t->discarded_bytes)
		rc = write_recovery(j, t, j->seg_name);
	return rc;
}

/* The key must be the journal's current one, or the next one if the writer
 * died between storing it and writing its certificate. */
static int check_key(struct journal *j, const struct tail *t, bool *resume_epoch)
{
	char want[JOURNAL_KEY_ID_STR], have[JOURNAL_KEY_ID_STR];
	struct seal_epoch e;

	*resume_epoch = false;
	if (j->key.epoch == t->epoch && memcmp(j->key.pub, t->pub, JOURNAL_PUB_LEN) == 0)
		return 0;
	if (j->key.epoch == t->epoch + 1 && j->key.start_seq == t->next_seq &&
	    memcmp(j->key.head, t->head, JF_HASH_LEN) == 0 && t->last_kind == JF_KIND_SEAL) {
		keys_epoch_record(&j->key, &e);
		if (seal_epoch_verify(&e, t->pub)) {
			*resume_epoch = true;
			return 0;
		}
	}
	seal_key_id(j->key.pub, have);
	seal_key_id(t->pub, want);
	return fail(&j->cfg, -EKEYREJECTED,
		    "key file %s (epoch %u, key id %s) is not the key of journal %s (epoch %u, key id %s at seq %llu)",
		    j->key_path, j->key.epoch, have, j->dir, t->epoch, want, (unsigned long long)t->next_seq);
}

static int resume(struct journal *j)
{
	struct tail t = { 0 };
	char name[JF_SEGMENT_NAME_LEN + 1];
	uint64_t *firsts;
	bool resume_epoch;
	size_t n;
	int rc;

	rc = segment_list(j->dirfd, &firsts, &n);
	if (rc < 0)
		return fail(&j->cfg, rc, "%s: %s", j->dir, strerror(-rc));
	for (; n > 0; n--) {
		segment_name(name, firsts[n - 1]);
		rc = scan_tail(j, name, &t);
		if (rc != -ENODATA)
			break;
		/* a header that never reached the disk: the segment held nothing */
		if (unlinkat(j->dirfd, name, 0) < 0) {
			rc = fail(&j->cfg, -errno, "unlink(\"%s/%s\"): %s", j->dir, name, strerror(errno));
			break;
		}
	}
	free(firsts);
	if (rc < 0 && rc != -ENODATA)
		return rc;
	if (n == 0)
		return start_new_journal(j, &t);
	rc = check_key(j, &t, &resume_epoch);
	if (rc < 0)
		return rc;
	j->next_seq = t.next_seq;
	j->seal_from = t.seal_from;
	j->unsealed = t.unsealed;
	j->last_kind = t.last_kind;
	j->epoch = t.epoch;
	memcpy(j->epoch_pub, t.pub, JOURNAL_PUB_LEN);
	memcpy(j->id, t.id, JOURNAL_ID_LEN);
	memcpy(j->head, t.head, JF_HASH_LEN);
	if (t.readonly && t.tail_junk) {
		/* nothing of ours writes after the chmod: this is someone else's */
		return fail(&j->cfg, -EBADMSG, "%s/%s: %llu bytes after the last block of a closed segment (run sandtrail verify)",
			    j->dir, name, (unsigned long long)t.tail_junk);
	}
	if (t.readonly) {
		rc = new_segment(j);
	} else {
		memcpy(j->seg_name, name, sizeof(name));
		j->fd = openat(j->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
		rc = j->fd < 0 ? -errno : 0;
		/* never append after garbage */
		if (rc == 0 && t.tail_junk && (ftruncate(j->fd, (off_t)t.good_end) < 0 || fsync(j->fd) < 0))
			rc = -errno;
		j->seg_bytes = t.good_end;
	}
	if (rc < 0)
		return fail(&j->cfg, rc, "%s/%s: %s", j->dir, j->seg_name, strerror(-rc));
	if (resume_epoch) {
		struct seal_epoch e;

		keys_epoch_record(&j->key, &e);
		rc = add_epoch_record(j, &e);
	}
	if (rc == 0 && (t.discarded_bytes || !(t.last_kind == JF_KIND_SEAL && t.last_final))) {
		rc = write_recovery(j, &t, name);
		if (rc == 0)
			rc = write_seal(j, false);
	}
	return rc;
}

int journal_open(struct journal **out, const struct journal_config *given)
{
	struct journal_config defaults, c = *given, *cfg = &c;
	struct journal *j;
	int rc;

	/* zero: the default, so a config written field by field still works */
	journal_config_defaults(&defaults);
	if (!c.seal_every)
		c.seal_every = defaults.seal_every;
	if (!c.segment_bytes)
		c.segment_bytes = defaults.segment_bytes;
	if (!c.epoch_ms)
		c.epoch_ms = defaults.epoch_ms;
	if (!c.block_bytes)
		c.block_bytes = defaults.block_bytes;
	if (!c.compress_level)
		c.compress_level = defaults.compress_level;
	if (!cfg->dir || !cfg->key_path)
		return fail(cfg, -EINVAL, "no journal directory or no signing key file given");
	if (cfg->segment_bytes < 4096 ||
	    cfg->block_bytes < 4096 || cfg->block_bytes > JF_BLOCK_ULEN_MAX - JF_RECORD_MAX - sizeof(struct jf_frame) ||
	    cfg->compress_level < SEGMENT_LEVEL_MIN || cfg->compress_level > SEGMENT_LEVEL_MAX || cfg->fsync > JOURNAL_FSYNC_NONE)
		return fail(cfg, -EINVAL, "invalid journal configuration");
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->cfg = *cfg;
	j->fd = j->dirfd = -1;
	rec_init(&j->rec);
	j->dir = strdup(cfg->dir);
	j->key_path = strdup(cfg->key_path);
	j->ncap = cfg->block_bytes / sizeof(struct jf_frame) + 1;
	j->frames = malloc(cfg->block_bytes + sizeof(struct jf_frame) + JF_RECORD_MAX);
	j->hashes = malloc((size_t)j->ncap * JF_HASH_LEN);
	if (!j->dir || !j->key_path || !j->frames || !j->hashes) {
		rc = -ENOMEM;
		goto err;
	}
	rc = keys_load(cfg->key_path, &j->key);
	if (rc == -ENOKEY)
		fail(cfg, rc, "key file %s does not exist (create it with sandtrail keygen or --create-key)",
		     cfg->key_path);
	else if (rc == -EBADMSG)
		fail(cfg, rc, "key file %s is not an intact sandtrail signing key", cfg->key_path);
	else if (rc == -EPERM)
		fail(cfg, rc, "key file %s is readable by group or others: refused (a signing key must be its "
		     "owner's alone: chmod 600 %s, and make a new one if others may have read it)",
		     cfg->key_path, cfg->key_path);
	else if (rc < 0)
		fail(cfg, rc, "key file %s: %s", cfg->key_path, strerror(-rc));
	if (rc < 0)
		goto err;
	if (mkdir(cfg->dir, 0700) < 0 && errno != EEXIST) {
		rc = fail(cfg, -errno, "mkdir(\"%s\"): %s", cfg->dir, strerror(errno));
		goto err;
	}
	j->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		rc = fail(cfg, -errno, "open(\"%s\"): %s", cfg->dir, strerror(errno));
		goto err;
	}
	/* one writer: two would interleave blocks and break the chain */
	if (flock(j->dirfd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? fail(cfg, -EBUSY, "%s is in use by another writer", cfg->dir)
					  : fail(cfg, -errno, "flock(\"%s\"): %s", cfg->dir, strerror(errno));
		goto err;
	}
	rc = segment_writer_new(&j->sw, cfg->compress_level);
	if (rc == 0)
		rc = crypto_sha256_new(&j->sha);
	if (rc < 0)
		goto err;
	j->last_seal_ms = j->epoch_start_ms = mono_ms();
	rc = resume(j);
	if (rc == 0)
		j->durable = j->synced_mark = j->last_kind == JF_KIND_SEAL ? j->next_seq : j->seal_from;
	if (rc == 0 && cfg->fsync != JOURNAL_FSYNC_NONE)
		rc = syncer_start(&j->syncer);
	if (rc < 0)
		goto err;
	*out = j;
	return 0;
err:
	journal_free(j);
	return rc;
}

int journal_dirfd(const struct journal *j)
{
	return j->dirfd;
}

const char *journal_dirname(const struct journal *j)
{
	return j->dir;
}

uint64_t journal_active_first(const struct journal *j)
{
	uint64_t first = 0;

	segment_name_parse(j->seg_name, &first);
	return first;
}

int journal_sync_now(struct journal *j)
{
	int rc = j->broken ? j->broken : flush_block(j);

	if (rc == 0 && (rc = sync_segment(j)) < 0)
		j->broken = rc;
	return rc;
}
