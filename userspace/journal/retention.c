/* Retention (schemas/journal.md, "Retention").  A cut removes whole closed
 * segments, oldest first, in this order: the epoch certificates they hold
 * are appended to the epochs file (synced), a `retention` record naming the
 * cut is appended, sealed and synced, and only then are the files unlinked.
 * A crash at any point leaves either the segments or a signed record of
 * their removal; the epochs file only grows. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "crypto.h"
#include "record.h"
#include "retention.h"
#include "seal.h"
#include "segment.h"

struct seg {
	uint64_t first, bytes;
	struct segment_info info;
};

static int read_size(int dirfd, uint64_t first, uint64_t *bytes)
{
	char name[JF_SEGMENT_NAME_LEN + 1];
	struct stat st;

	segment_name(name, first);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	*bytes = (uint64_t)st.st_size;
	return 0;
}

int journal_disk_bytes(struct journal *j, uint64_t *bytes)
{
	uint64_t *firsts = NULL, b;
	size_t n = 0;
	int rc = segment_list(journal_dirfd(j), &firsts, &n);

	*bytes = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = read_size(journal_dirfd(j), firsts[i], &b);
		if (rc == -ENOENT) /* removed by retention meanwhile */
			rc = b = 0;
		*bytes += b;
	}
	free(firsts);
	return rc;
}

static int read_header(int dirfd, uint64_t first, struct segment_info *info, char *err, size_t errlen)
{
	char name[JF_SEGMENT_NAME_LEN + 1];
	struct segment_reader *sr;
	int rc;

	segment_name(name, first);
	rc = segment_reader_open(&sr, dirfd, name);
	if (rc == 0) {
		rc = segment_reader_header(sr, info);
		segment_reader_close(sr);
		rc = rc == 1 ? 0 : rc < 0 ? rc : -EBADMSG;
	}
	if (rc < 0)
		snprintf(err, errlen, "segment %s: %s", name, strerror(-rc));
	return rc;
}

/* The epochs file, whole: *n entries (a torn last entry is left out). */
static int epochs_load(int dirfd, struct jf_epoch_entry **v, size_t *n)
{
	struct stat st;
	int fd = openat(dirfd, JF_EPOCHS_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t k;

	*v = NULL;
	*n = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	*n = (size_t)st.st_size / sizeof(**v);
	*v = malloc(*n ? *n * sizeof(**v) : 1);
	k = *v ? pread(fd, *v, *n * sizeof(**v), 0) : -1;
	close(fd);
	if (k != (ssize_t)(*n * sizeof(**v))) {
		free(*v);
		*v = NULL;
		return k < 0 ? -ENOMEM : -EIO;
	}
	return 0;
}

static void entry_to_epoch(const struct jf_epoch_entry *x, struct seal_epoch *e)
{
	*e = (struct seal_epoch){ .ts_ns = le64toh(x->ts_ns), .epoch = le32toh(x->epoch),
				  .start_seq = le64toh(x->start_seq) };
	memcpy(e->head, x->head, JF_HASH_LEN);
	memcpy(e->pub, x->pub, JOURNAL_PUB_LEN);
	memcpy(e->cert, x->cert, JF_SIG_LEN);
}

static void epoch_to_entry(const struct seal_epoch *e, struct jf_epoch_entry *x)
{
	*x = (struct jf_epoch_entry){ .ts_ns = htole64(e->ts_ns), .epoch = htole32(e->epoch),
				      .start_seq = htole64(e->start_seq) };
	memcpy(x->head, e->head, JF_HASH_LEN);
	memcpy(x->pub, e->pub, JOURNAL_PUB_LEN);
	memcpy(x->cert, e->cert, JF_SIG_LEN);
}

/* Appends to the epochs file the epoch records of the segments [0, k) that it
 * does not hold yet (it holds epochs 1..*n), then syncs it. */
static int epochs_collect(int dirfd, const struct seg *segs, size_t k, size_t *n, char *err, size_t errlen)
{
	int fd = openat(dirfd, JF_EPOCHS_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0440);
	size_t had = *n;
	int rc = 0;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", JF_EPOCHS_FILE, strerror(errno));
		return -errno;
	}
	/* a torn entry of an earlier crash is cut back to whole ones */
	if (ftruncate(fd, (off_t)(*n * sizeof(struct jf_epoch_entry))) < 0)
		rc = -errno;
	for (size_t i = 0; rc == 0 && i < k; i++) {
		char name[JF_SEGMENT_NAME_LEN + 1];
		struct segment_reader *sr;
		struct segment_info info;
		struct segment_block b;

		segment_name(name, segs[i].first);
		rc = segment_reader_open(&sr, dirfd, name);
		if (rc < 0)
			break;
		rc = segment_reader_header(sr, &info) == 1 ? 0 : -EBADMSG;
		while (rc == 0 && (rc = segment_reader_next(sr, &b)) == 1) {
			struct segment_frame f;
			size_t off = 0;
			uint32_t idx = 0;

			while ((rc = segment_next_frame(&b, &off, &idx, &f)) == 1) {
				struct seal_epoch e;
				struct jf_epoch_entry x;

				if (f.kind != JF_KIND_EPOCH || seal_epoch_parse(f.payload, f.len, &e) < 0 ||
				    e.epoch != *n + 1)
					continue;
				epoch_to_entry(&e, &x);
				if (write(fd, &x, sizeof(x)) != (ssize_t)sizeof(x)) {
					rc = errno ? -errno : -EIO;
					break;
				}
				(*n)++;
			}
		}
		segment_reader_close(sr);
		if (rc < 0)
			snprintf(err, errlen, "reading the epoch records of %s: %s", name, strerror(-rc));
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc == 0 && had == 0 && *n > 0 && fsync(dirfd) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0 && !*err)
		snprintf(err, errlen, "%s: %s", JF_EPOCHS_FILE, strerror(-rc));
	return rc;
}

static int epochs_hash(int dirfd, size_t n, uint8_t out[JF_HASH_LEN])
{
	struct jf_epoch_entry *v;
	size_t have;
	int rc = epochs_load(dirfd, &v, &have);

	if (rc == 0 && have < n)
		rc = -EIO;
	if (rc == 0)
		rc = crypto_sha256(v, n * sizeof(*v), out);
	free(v);
	return rc;
}

int journal_retain(struct journal *j, const struct journal_retention *p, uint64_t shipped_below, char *err,
		   size_t errlen)
{
	int dirfd = journal_dirfd(j);
	uint64_t active = journal_active_first(j), total = 0, removed = 0, now = clock_ns(CLOCK_REALTIME);
	uint64_t *firsts = NULL;
	struct seg *segs = NULL;
	size_t n = 0, k = 0, nepochs;
	const char *reason = NULL;
	struct jf_epoch_entry *ev;
	bool held = false;
	int rc;

	err[0] = 0;
	if (!p->bytes && !p->age_ns)
		return 0;
	rc = segment_list(dirfd, &firsts, &n);
	if (rc == 0 && !(segs = calloc(n ? n : 1, sizeof(*segs))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		segs[i].first = firsts[i];
		rc = read_size(dirfd, firsts[i], &segs[i].bytes);
		total += segs[i].bytes;
	}
	/* oldest first, closed ones only, each ending where the next begins
	 * (whose header says when it began, and what the journal would start with) */
	for (; rc == 0 && k + 1 < n && segs[k + 1].first <= active; k++) {
		bool over, old;

		rc = read_header(dirfd, segs[k + 1].first, &segs[k + 1].info, err, errlen);
		if (rc < 0)
			break;
		over = p->bytes && total > p->bytes;
		old = p->age_ns && segs[k + 1].info.created_ns + p->age_ns <= now;

		if (!(over || old))
			break;
		if (segs[k + 1].first > shipped_below) {
			held = true;
			break;
		}
		reason = over ? "retain-bytes" : "retain-days";
		total -= segs[k].bytes;
	}
	if (rc == 0 && k == 0 && held) {
		snprintf(err, errlen, "segments past retention wait for every exporter to ship them");
		rc = -EAGAIN;
	}
	if (rc < 0 || k == 0)
		goto out;

	rc = epochs_load(dirfd, &ev, &nepochs);
	free(ev);
	if (rc == 0)
		rc = epochs_collect(dirfd, segs, k, &nepochs, err, errlen);
	if (rc == 0 && segs[k].info.epoch > nepochs) {
		snprintf(err, errlen, "the epochs file stops at epoch %zu, the journal would start in epoch %u", nepochs,
			 segs[k].info.epoch);
		rc = -EBADMSG;
	}
	if (rc == 0) {
		struct rec *r = malloc(sizeof(*r));
		uint8_t hash[JF_HASH_LEN];
		const void *rp;
		size_t len;

		rc = r ? epochs_hash(dirfd, nepochs, hash) : -ENOMEM;
		if (rc == 0) {
			char name[JF_SEGMENT_NAME_LEN + 1];

			rec_init(r);
			rec_begin(r, "retention", now);
			rec_key(r, "segments");
			msgpack_pack_array(&r->pk, k);
			for (size_t i = 0; i < k; i++) {
				segment_name(name, segs[i].first);
				msgpack_pack_str_with_body(&r->pk, name, strlen(name));
				removed += segs[i].bytes;
			}
			rec_uint(r, "first", segs[0].first);
			rec_uint(r, "last", segs[k].first - 1);
			rec_bytes(r, "head", segs[k].info.head, JF_HASH_LEN);
			rec_uint(r, "seal_from", segs[k].info.seal_from);
			rec_uint(r, "epoch", segs[k].info.epoch);
			rec_bytes(r, "pub", segs[k].info.epoch_pub, JOURNAL_PUB_LEN);
			rec_uint(r, "epochs", nepochs);
			rec_bytes(r, "epochs_hash", hash, JF_HASH_LEN);
			rec_uint(r, "bytes", removed);
			rec_str(r, "reason", reason);
			rp = rec_finish(r, &len);
			rc = journal_append(j, rp, len, NULL);
			rec_free(r);
		}
		free(r);
		/* the record is sealed and on disk before anything goes */
		if (rc == 0)
			rc = journal_seal(j);
		if (rc == 0)
			rc = journal_sync_now(j);
		if (rc < 0 && !err[0])
			snprintf(err, errlen, "writing the retention record: %s", strerror(-rc));
	}
	for (size_t i = 0; rc == 0 && i < k; i++) {
		char name[JF_SEGMENT_NAME_LEN + 1];

		segment_name(name, segs[i].first);
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) {
			rc = -errno;
			snprintf(err, errlen, "unlink(\"%s/%s\"): %s", journal_dirname(j), name, strerror(errno));
		}
	}
	if (rc == 0 && fsync(dirfd) < 0)
		rc = -errno;
out:
	free(firsts);
	free(segs);
	return rc < 0 ? rc : (int)k;
}

int retention_parse(const void *p, size_t len, struct retention_info *ri)
{
	msgpack_zone zone;
	msgpack_object o;
	const char *h, *pub, *eh;
	size_t hl, pl, el;
	uint64_t epoch;
	int rc = -EBADMSG;

	msgpack_zone_init(&zone, 1024);
	if (rec_unpack(p, len, &zone, &o) < 0)
		goto out;
	if (!rec_is(&o, "type", "retention")) {
		rc = -ENOENT;
		goto out;
	}
	if (rec_get_uint(&o, "first", &ri->first) && rec_get_uint(&o, "last", &ri->last) &&
	    rec_get_uint(&o, "seal_from", &ri->seal_from) && rec_get_uint(&o, "epoch", &epoch) &&
	    epoch <= UINT32_MAX && rec_get_uint(&o, "epochs", &ri->epochs) &&
	    rec_get_bytes(&o, "head", &h, &hl) && hl == JF_HASH_LEN && rec_get_bytes(&o, "pub", &pub, &pl) &&
	    pl == JOURNAL_PUB_LEN && rec_get_bytes(&o, "epochs_hash", &eh, &el) && el == JF_HASH_LEN) {
		ri->epoch = (uint32_t)epoch;
		memcpy(ri->head, h, JF_HASH_LEN);
		memcpy(ri->pub, pub, JOURNAL_PUB_LEN);
		memcpy(ri->epochs_hash, eh, JF_HASH_LEN);
		rc = 0;
	}
out:
	msgpack_zone_destroy(&zone);
	return rc;
}

int retention_check_epochs(int dirfd, const uint8_t root[JOURNAL_PUB_LEN], const struct retention_info *ri,
			   char *why, size_t whylen)
{
	uint8_t pub[JOURNAL_PUB_LEN], hash[JF_HASH_LEN];
	struct jf_epoch_entry *v;
	size_t n;
	int rc = epochs_load(dirfd, &v, &n);

	if (rc < 0) {
		snprintf(why, whylen, "the epochs file cannot be read: %s", strerror(-rc));
		return -EBADMSG;
	}
	rc = -EBADMSG;
	memcpy(pub, root, JOURNAL_PUB_LEN);
	if (n < ri->epochs || ri->epoch > ri->epochs) {
		snprintf(why, whylen, "the epochs file holds %zu epochs, the retention record needs %llu", n,
			 (unsigned long long)(ri->epochs > ri->epoch ? ri->epochs : ri->epoch));
		goto out;
	}
	if (crypto_sha256(v, ri->epochs * sizeof(*v), hash) < 0 || memcmp(hash, ri->epochs_hash, JF_HASH_LEN)) {
		snprintf(why, whylen, "the epochs file is not the one the retention record signed (hash)");
		goto out;
	}
	for (uint32_t i = 0; i < ri->epoch; i++) {
		struct seal_epoch e;

		entry_to_epoch(&v[i], &e);
		if (e.epoch != i + 1 || !seal_epoch_verify(&e, pub)) {
			snprintf(why, whylen, "epochs file entry %u: epoch %u's certificate does not verify", i, e.epoch);
			goto out;
		}
		memcpy(pub, e.pub, JOURNAL_PUB_LEN);
	}
	if (memcmp(pub, ri->pub, JOURNAL_PUB_LEN)) {
		snprintf(why, whylen, "epoch %u's key in the retention record is not the one its certificates lead to",
			 ri->epoch);
		goto out;
	}
	rc = 0;
out:
	free(v);
	return rc;
}
