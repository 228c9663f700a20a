/* The journal reader: yields records in seq order and checks as it goes the
 * framing, the chain, the seals and the epoch certificates, trusting only the
 * epoch-0 public key it is given.  A record's state is known once the next
 * seal is read, so records wait in a queue until then. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "keys.h"
#include "retention.h"
#include "seal.h"
#include "segment.h"

#define ST_PENDING 255           /* not yet covered by a seal */
#define QUEUE_MAX_RECORDS (4u << 20)
#define QUEUE_MAX_BYTES (1ull << 30)

struct seg {
	char *name;                  /* shown to the user */
	uint64_t first_seq;
};

struct item {
	uint64_t seq, offset;
	size_t seg, data, len;
	uint8_t state, kind;
};

struct journal_reader {
	char *dir;
	int dirfd;                   /* AT_FDCWD for a list of files */
	bool files;
	struct seg *segs;
	size_t nsegs, cur;
	struct segment_reader *sr;
	bool header_ok, seg_damaged;
	struct segment_block blk;
	bool in_block;
	size_t foff;
	uint32_t fidx;
	struct crypto_sha256 *sha;
	bool has_root;
	uint8_t root_pub[JOURNAL_PUB_LEN];
	bool has_id;
	uint8_t id[JOURNAL_ID_LEN];
	/* follow mode */
	bool follow;
	uint64_t from_seq;
	/* a head cut by retention: the first segment's header, until a sealed
	 * retention record vouches for it (cut_proven) */
	bool cut, cut_candidate, cut_proven;
	struct segment_info cut_at;
	/* chain */
	bool started, lost;          /* lost: records are missing before the next one */
	uint64_t expect;
	uint8_t head[JF_HASH_LEN];
	/* epochs */
	bool have_epoch, untrusted;  /* untrusted: the key chain broke, nothing seals any more */
	uint32_t epoch;
	uint8_t pub[JOURNAL_PUB_LEN];
	char key_id[JOURNAL_KEY_ID_STR];
	/* seals */
	uint64_t cover_from;
	bool cover_unknown;
	uint8_t last_kind;
	bool last_seal_ok, last_final;
	uint64_t last_seal_seq, last_seal_off;
	size_t last_seal_seg;
	uint64_t unsealed_from, unsealed_off;
	size_t unsealed_seg;
	/* queue of records not yet yielded */
	struct item *q;
	size_t qn, qcap, qpos, qrel;
	uint8_t *arena;
	size_t alen, acap;
	/* findings */
	struct journal_fault faults[JOURNAL_FAULTS_KEPT];
	char what[JOURNAL_FAULTS_KEPT][224];
	size_t nfaults;
	struct journal_stats st;
};

__attribute__((format(printf, 5, 6))) static void fault(struct journal_reader *r, size_t seg, uint64_t offset,
							 uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	r->st.faults++;
	if (r->nfaults == JOURNAL_FAULTS_KEPT)
		return;
	va_start(ap, fmt);
	vsnprintf(r->what[r->nfaults], sizeof(r->what[0]), fmt, ap);
	va_end(ap);
	r->faults[r->nfaults] = (struct journal_fault){
		.segment = seg < r->nsegs ? r->segs[seg].name : "",
		.offset = offset,
		.seq = seq,
		.what = r->what[r->nfaults],
	};
	r->nfaults++;
}

static int add_seg(struct journal_reader *r, const char *name, uint64_t first_seq)
{
	struct seg *s = realloc(r->segs, (r->nsegs + 1) * sizeof(*s));

	if (!s)
		return -ENOMEM;
	r->segs = s;
	s[r->nsegs].name = strdup(name);
	if (!s[r->nsegs].name)
		return -ENOMEM;
	s[r->nsegs++].first_seq = first_seq;
	return 0;
}

/* Directory mode: picks up segments created since the last look. */
static int refresh(struct journal_reader *r)
{
	char name[JF_SEGMENT_NAME_LEN + 1];
	uint64_t *firsts;
	size_t n;
	int rc;

	if (r->files)
		return 0;
	rc = segment_list(r->dirfd, &firsts, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (r->nsegs && firsts[i] <= r->segs[r->nsegs - 1].first_seq)
			continue;
		segment_name(name, firsts[i]);
		rc = add_seg(r, name, firsts[i]);
	}
	free(firsts);
	return rc;
}

static int reader_new(struct journal_reader **out, const char *pubkey_path)
{
	struct journal_reader *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->dirfd = AT_FDCWD;
	r->last_kind = JF_KIND_SEAL;
	rc = crypto_sha256_new(&r->sha);
	if (rc == 0 && pubkey_path) {
		rc = keys_read_pub(pubkey_path, r->root_pub);
		r->has_root = rc == 0;
	}
	if (rc < 0) {
		journal_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int journal_reader_open(struct journal_reader **out, const char *dir, const char *pubkey_path)
{
	struct journal_reader *r;
	int rc = reader_new(&r, pubkey_path);

	if (rc < 0)
		return rc;
	r->dir = strdup(dir);
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = !r->dir ? -ENOMEM : r->dirfd < 0 ? -errno : refresh(r);
	if (rc < 0) {
		journal_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

int journal_reader_open_files(struct journal_reader **out, char *const *paths, size_t n, const char *pubkey_path)
{
	struct journal_reader *r;
	int rc = reader_new(&r, pubkey_path);

	if (rc < 0)
		return rc;
	r->files = true;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct segment_reader *sr;
		struct segment_info info;

		rc = segment_reader_open(&sr, AT_FDCWD, paths[i]);
		if (rc < 0)
			break;
		/* order by what the headers say; a damaged header goes last */
		if (segment_reader_header(sr, &info) != 1)
			info.first_seq = UINT64_MAX;
		segment_reader_close(sr);
		rc = add_seg(r, paths[i], info.first_seq);
	}
	if (rc < 0) {
		journal_reader_close(r);
		return rc;
	}
	qsort(r->segs, r->nsegs, sizeof(*r->segs), cmp_seg);
	*out = r;
	return 0;
}

void journal_reader_close(struct journal_reader *r)
{
	if (!r)
		return;
	segment_reader_close(r->sr);
	if (r->dirfd >= 0)
		close(r->dirfd);
	for (size_t i = 0; i < r->nsegs; i++)
		free(r->segs[i].name);
	free(r->segs);
	crypto_sha256_free(r->sha);
	free(r->q);
	free(r->arena);
	free(r->dir);
	free(r);
}

static void next_segment(struct journal_reader *r)
{
	segment_reader_close(r->sr);
	r->sr = NULL;
	r->cur++;
	r->in_block = false;
}

/* Is there a segment after the current one? */
static int has_next(struct journal_reader *r)
{
	int rc;

	if (r->cur + 1 < r->nsegs)
		return 1;
	rc = refresh(r);
	return rc < 0 ? rc : r->cur + 1 < r->nsegs;
}

static void check_segment_start(struct journal_reader *r, const struct segment_info *info)
{
	uint64_t first = info->first_seq;

	r->st.segments++;
	/* the name is bound to the contents: a segment renamed to another seq
	 * (to reorder the journal or hide a cut) does not pass */
	if (first != r->segs[r->cur].first_seq)
		fault(r, r->cur, 0, first, "segment named for seq %llu holds seqs from %llu (renamed?)",
		      (unsigned long long)r->segs[r->cur].first_seq, (unsigned long long)first);
	if (r->has_id && memcmp(info->journal_id, r->id, JOURNAL_ID_LEN) != 0) {
		char got[JOURNAL_ID_STR], want[JOURNAL_ID_STR];

		journal_id_hex(info->journal_id, got);
		journal_id_hex(r->id, want);
		fault(r, r->cur, 0, r->started ? r->expect : first, "segment of journal %s, not of journal %s", got, want);
		r->lost = true;
	}
	if (!r->has_id) {
		memcpy(r->id, info->journal_id, JOURNAL_ID_LEN);
		r->has_id = true;
	}
	if (!r->started) {
		r->started = true;
		r->expect = first;
		r->cover_from = info->seal_from;
		memcpy(r->head, info->head, JF_HASH_LEN);
		if ((r->follow || (!r->files && r->has_root)) && first != 0) {
			/* the header is the starting point: its epoch key signs what
			 * follows; verify then wants a retention record for the cut */
			r->cut = !r->follow;
			r->cut_at = *info;
			/* a seal ended what came before: an epoch record may open the segment */
			if (info->seal_from + 1 == first) {
				r->last_kind = JF_KIND_SEAL;
				r->last_seal_ok = true;
			}
			r->have_epoch = true;
			r->epoch = info->epoch;
			memcpy(r->pub, info->epoch_pub, JOURNAL_PUB_LEN);
			seal_key_id(r->pub, r->key_id);
		} else if (first != 0) {
			fault(r, r->cur, 0, 0, "the journal starts at seq %llu, not 0 (earlier segments missing)",
			      (unsigned long long)first);
			r->lost = true;
		}
		return;
	}
	if (first != r->expect) {
		if (first > r->expect)
			fault(r, r->cur, 0, r->expect, "seqs %llu..%llu missing before this segment (segment removed?)",
			      (unsigned long long)r->expect, (unsigned long long)first - 1);
		else
			fault(r, r->cur, 0, r->expect, "segment starts at seq %llu, before the expected %llu",
			      (unsigned long long)first, (unsigned long long)r->expect);
		r->lost = true;
	} else if (memcmp(info->head, r->head, JF_HASH_LEN) != 0 || info->seal_from != r->cover_from ||
		   (r->have_epoch && (info->epoch != r->epoch || memcmp(info->epoch_pub, r->pub, JOURNAL_PUB_LEN) != 0))) {
		fault(r, r->cur, 0, first, "segment header does not continue the journal (chain head, seal or epoch)");
	}
}

/* The next frame of the journal: 1, 0 when there is none (yet), -errno. */
static int next_frame(struct journal_reader *r, struct segment_frame *f)
{
	struct segment_info info;
	int rc;

	for (;;) {
		if (!r->sr) {
			if (r->cur >= r->nsegs && (rc = refresh(r)) < 0)
				return rc;
			if (r->cur >= r->nsegs)
				return 0;
			rc = segment_reader_open(&r->sr, r->dirfd, r->segs[r->cur].name);
			if (rc < 0)
				return rc;
			r->header_ok = r->seg_damaged = r->in_block = false;
		}
		if (!r->header_ok) {
			rc = segment_reader_header(r->sr, &info);
			if (rc < 0 && rc != -EBADMSG && rc != -EPROTO)
				return rc;
			if (rc == 1) {
				r->header_ok = true;
				check_segment_start(r, &info);
				continue;
			}
			if (rc == -EPROTO)
				fault(r, r->cur, 0, r->expect, "segment of another journal format version (this sandtrail reads "
				      "version %d)", JF_VERSION);
			else if (rc == 0 && (rc = has_next(r)) <= 0)
				return rc;
			else
				fault(r, r->cur, 0, r->expect, "damaged or incomplete segment header");
			r->lost = true;
			next_segment(r);
			continue;
		}
		if (r->in_block) {
			rc = segment_next_frame(&r->blk, &r->foff, &r->fidx, f);
			if (rc == 1)
				return 1;
			r->in_block = false;
			if (rc < 0) {
				fault(r, r->cur, r->blk.offset, r->expect, "block's records do not add up to the block");
				r->lost = true;
			}
			continue;
		}
		rc = r->seg_damaged ? 0 : segment_reader_next(r->sr, &r->blk);
		if (rc == 0) {
			/* a writer finishes a segment before it creates the next */
			if ((rc = has_next(r)) <= 0)
				return rc;
			rc = r->seg_damaged ? 0 : segment_reader_next(r->sr, &r->blk);
			if (rc == 0) {
				uint64_t left = segment_reader_remaining(r->sr);

				if (left && !r->seg_damaged) {
					fault(r, r->cur, segment_reader_offset(r->sr), r->expect,
					      "%llu bytes at the end of the segment are not a whole block (truncated)",
					      (unsigned long long)left);
					r->lost = true;
				}
				next_segment(r);
				continue;
			}
		}
		if (rc == -EBADMSG) {
			fault(r, r->cur, segment_reader_offset(r->sr), r->expect,
			      "damaged block (checksum or framing does not match)");
			r->lost = true;
			rc = segment_reader_resync(r->sr);
			if (rc < 0)
				return rc;
			r->seg_damaged = rc == 0;
			continue;
		}
		if (rc < 0)
			return rc;
		r->in_block = true;
		r->foff = 0;
		r->fidx = 0;
	}
}

static void mark_pending(struct journal_reader *r, uint8_t state)
{
	for (size_t i = r->qpos; i < r->qn; i++)
		if (r->q[i].state == ST_PENDING)
			r->q[i].state = state;
}

static void release_all(struct journal_reader *r, uint8_t pending_state)
{
	mark_pending(r, pending_state);
	r->qrel = r->qn;
}

static void check_seal(struct journal_reader *r, const struct segment_frame *f, const uint8_t *head_before,
		       uint8_t *state)
{
	char why[200] = "";
	struct seal_info s;
	bool parsed = seal_parse(f->payload, f->len, &s) == 0;
	unsigned long long first = parsed ? s.first : 0, last = parsed ? s.last : 0;

	r->st.seals++;
	if (!parsed)
		snprintf(why, sizeof(why), "malformed seal record");
	else if (s.last + 1 != f->seq)
		snprintf(why, sizeof(why), "seal covers up to seq %llu but sits at seq %llu", last,
			 (unsigned long long)f->seq);
	else if (!r->cover_unknown && s.first != r->cover_from)
		snprintf(why, sizeof(why), "seal covers from seq %llu, the previous seal is at seq %llu (seal removed?)",
			 first, (unsigned long long)r->cover_from);
	else if (!head_before || memcmp(s.head, head_before, JF_HASH_LEN) != 0)
		snprintf(why, sizeof(why), "chain head does not match the seal over seqs %llu..%llu (records altered)",
			 first, last);
	else if (!r->have_epoch)
		snprintf(why, sizeof(why), "seal before any epoch record");
	else if (s.epoch != r->epoch)
		snprintf(why, sizeof(why), "seal over seqs %llu..%llu claims epoch %u, this part of the journal is epoch %u",
			 first, last, s.epoch, r->epoch);
	else if (strcmp(s.key_id, r->key_id) != 0)
		snprintf(why, sizeof(why), "seal over seqs %llu..%llu names key %s, epoch %u's key is %s", first, last,
			 s.key_id, r->epoch, r->key_id);
	else if (r->has_root && !seal_verify(&s, r->pub))
		snprintf(why, sizeof(why), "seal signature over seqs %llu..%llu does not verify with epoch %u's key %s",
			 first, last, r->epoch, r->key_id);
	if (why[0] && !r->untrusted && !r->lost)
		fault(r, r->cur, r->blk.offset, f->seq, "%s", why);
	r->last_seal_ok = !why[0];
	r->last_final = parsed && s.final;
	r->last_seal_seq = f->seq;
	r->last_seal_seg = r->cur;
	r->last_seal_off = r->blk.offset;
	r->cover_from = f->seq;
	r->cover_unknown = false;
	if (why[0] || r->untrusted) {
		*state = JOURNAL_BAD;
		release_all(r, JOURNAL_BAD);
		return;
	}
	if (r->cut_candidate)
		r->cut_proven = true;
	/* a valid seal vouches for itself: every field of it is signed */
	if (*state == ST_PENDING)
		*state = r->has_root ? JOURNAL_SEALED : JOURNAL_UNSEALED;
	release_all(r, r->has_root ? JOURNAL_SEALED : JOURNAL_UNSEALED);
}

static void check_epoch(struct journal_reader *r, const struct segment_frame *f, const uint8_t *head_before,
			uint8_t *state)
{
	static const uint8_t zero[JF_HASH_LEN];
	char why[200] = "", got[JOURNAL_KEY_ID_STR], want[JOURNAL_KEY_ID_STR];
	struct seal_epoch e;

	r->st.epochs++;
	if (seal_epoch_parse(f->payload, f->len, &e) < 0) {
		snprintf(why, sizeof(why), "malformed epoch record");
	} else if (e.start_seq != f->seq) {
		snprintf(why, sizeof(why), "epoch %u record says it starts at seq %llu", e.epoch,
			 (unsigned long long)e.start_seq);
	} else if (e.epoch == 0) {
		seal_key_id(e.pub, got);
		seal_key_id(r->root_pub, want);
		if (r->have_epoch || f->seq != 0 || memcmp(e.head, zero, JF_HASH_LEN) != 0)
			snprintf(why, sizeof(why), "epoch 0 record not at the start of the journal");
		else if (r->has_root && memcmp(e.pub, r->root_pub, JOURNAL_PUB_LEN) != 0)
			snprintf(why, sizeof(why), "the journal was started with key %s, not with the given public key %s",
				 got, want);
		else if (!r->has_id || memcmp(e.journal_id, r->id, JOURNAL_ID_LEN) != 0)
			snprintf(why, sizeof(why), "epoch 0 record names another journal than its segment header");
	} else if (!r->have_epoch || e.epoch != r->epoch + 1) {
		snprintf(why, sizeof(why), "epoch %u record where epoch %u should follow", e.epoch,
			 r->have_epoch ? r->epoch + 1 : 0);
	} else if (r->last_kind != JF_KIND_SEAL || !r->last_seal_ok) {
		snprintf(why, sizeof(why), "epoch %u record does not directly follow a valid seal", e.epoch);
	} else if (!head_before || memcmp(e.head, head_before, JF_HASH_LEN) != 0) {
		snprintf(why, sizeof(why), "epoch %u certificate is for another chain head", e.epoch);
	} else if (!seal_epoch_verify(&e, r->pub)) {
		snprintf(why, sizeof(why), "epoch %u certificate does not verify with epoch %u's key %s", e.epoch,
			 r->epoch, r->key_id);
	}
	if (why[0]) {
		if (!r->untrusted && !r->lost)
			fault(r, r->cur, r->blk.offset, f->seq, "%s", why);
		*state = JOURNAL_BAD;
		/* what follows is signed by keys that no longer lead back to the trusted one */
		r->untrusted = true;
	}
	if (why[0] && !(e.epoch == r->epoch + 1 || (e.epoch == 0 && !r->have_epoch)))
		return;
	r->have_epoch = true;
	r->epoch = e.epoch;
	memcpy(r->pub, e.pub, JOURNAL_PUB_LEN);
	seal_key_id(r->pub, r->key_id);
}

/* A retention record that names the cut this journal starts with (seq,
 * chain head, seal, epoch and key of its first segment), whose epochs file
 * leads from the trusted key to that epoch's key: the next valid seal then
 * proves the cut was the writer's. */
static void check_retention(struct journal_reader *r, const struct segment_frame *f)
{
	struct retention_info ri;
	char why[200];

	if (!memmem(f->payload, f->len, "retention", 9) || retention_parse(f->payload, f->len, &ri) < 0 ||
	    ri.last + 1 != r->cut_at.first_seq)
		return;
	if (memcmp(ri.head, r->cut_at.head, JF_HASH_LEN) || ri.seal_from != r->cut_at.seal_from ||
	    ri.epoch != r->cut_at.epoch || memcmp(ri.pub, r->cut_at.epoch_pub, JOURNAL_PUB_LEN))
		fault(r, r->cur, r->blk.offset, f->seq,
		      "retention record of seqs %llu..%llu does not match the first segment's header (chain head, seal or "
		      "epoch)", (unsigned long long)ri.first, (unsigned long long)ri.last);
	else if (retention_check_epochs(r->dirfd, r->root_pub, &ri, why, sizeof(why)) < 0)
		fault(r, r->cur, r->blk.offset, f->seq, "retention record of seqs %llu..%llu: %s",
		      (unsigned long long)ri.first, (unsigned long long)ri.last, why);
	else
		r->cut_candidate = true;
}

static int enqueue(struct journal_reader *r, const struct segment_frame *f, uint8_t state)
{
	struct item *it;

	if (r->qn == r->qcap) {
		size_t cap = r->qcap ? 2 * r->qcap : 1024;
		struct item *q = realloc(r->q, cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		r->q = q;
		r->qcap = cap;
	}
	if (r->alen + f->len > r->acap) {
		size_t cap = r->acap ? r->acap : 1u << 20;
		uint8_t *a;

		while (cap < r->alen + f->len)
			cap *= 2;
		a = realloc(r->arena, cap);
		if (!a)
			return -ENOMEM;
		r->arena = a;
		r->acap = cap;
	}
	memcpy(r->arena + r->alen, f->payload, f->len);
	it = &r->q[r->qn++];
	*it = (struct item){ .seq = f->seq, .offset = r->blk.offset, .seg = r->cur, .data = r->alen,
			     .len = f->len, .state = state, .kind = f->kind };
	r->alen += f->len;
	return 0;
}

static int process(struct journal_reader *r, const struct segment_frame *f)
{
	uint8_t head_before[JF_HASH_LEN], h[JF_HASH_LEN], state = ST_PENDING;
	bool linked = !r->lost;
	int rc;

	r->st.records++;
	memcpy(head_before, r->head, JF_HASH_LEN);
	if (r->lost) {
		/* nothing to chain it to: it starts the chain anew, unverified */
		state = JOURNAL_BAD;
		r->lost = false;
		r->cover_unknown = true;
		memcpy(r->head, f->hash, JF_HASH_LEN);
	} else {
		bool faulted = false;

		if (f->seq != r->expect) {
			fault(r, r->cur, r->blk.offset, r->expect,
			      "seq %llu expected here, found seq %llu (records deleted, inserted or reordered)",
			      (unsigned long long)r->expect, (unsigned long long)f->seq);
			faulted = true;
			state = JOURNAL_BAD;
		}
		rc = seal_chain(r->sha, r->head, f->hdr, f->payload, f->len, h);
		if (rc < 0)
			return rc;
		if (memcmp(h, f->hash, JF_HASH_LEN) != 0) {
			if (!faulted)
				fault(r, r->cur, r->blk.offset, f->seq, "record altered: it does not match its chain hash");
			state = JOURNAL_BAD;
		}
		memcpy(r->head, f->hash, JF_HASH_LEN);
	}
	r->expect = f->seq + 1;
	if (r->last_kind == JF_KIND_SEAL && f->kind != JF_KIND_SEAL) {
		r->unsealed_from = f->seq;
		r->unsealed_seg = r->cur;
		r->unsealed_off = r->blk.offset;
	}
	if (r->cut && !r->cut_candidate && f->kind == JF_KIND_RECORD && state == ST_PENDING)
		check_retention(r, f);
	if (f->kind == JF_KIND_SEAL)
		check_seal(r, f, linked ? head_before : NULL, &state);
	else if (f->kind == JF_KIND_EPOCH)
		check_epoch(r, f, linked ? head_before : NULL, &state);
	r->last_kind = f->kind;
	if (f->seq < r->from_seq)
		return 0; /* read for the chain and seals only */
	rc = enqueue(r, f, state);
	/* a seal vouches for itself: it goes out with what it covers */
	if (rc == 0 && f->kind == JF_KIND_SEAL)
		r->qrel = r->qn;
	/* a journal without seals must not hold the reader's memory hostage */
	if (rc == 0 && (r->qn - r->qpos > QUEUE_MAX_RECORDS || r->alen > QUEUE_MAX_BYTES))
		release_all(r, JOURNAL_UNSEALED);
	return rc;
}

/* Moves the records still waiting for their seal to the front, so that a
 * follower that never finds the queue empty does not grow it for ever. */
static void compact(struct journal_reader *r)
{
	size_t base = r->q[r->qpos].data;

	memmove(r->arena, r->arena + base, r->alen - base);
	r->alen -= base;
	memmove(r->q, r->q + r->qpos, (r->qn - r->qpos) * sizeof(*r->q));
	for (size_t i = 0; i < r->qn - r->qpos; i++)
		r->q[i].data -= base;
	r->qn -= r->qpos;
	r->qrel -= r->qpos;
	r->qpos = 0;
}

int journal_reader_follow(struct journal_reader *r, uint64_t from_seq)
{
	if (r->started || r->files)
		return -EINVAL;
	r->follow = true;
	r->from_seq = from_seq;
	while (r->cur + 1 < r->nsegs && r->segs[r->cur + 1].first_seq <= from_seq)
		r->cur++;
	return 0;
}

int journal_reader_id(const struct journal_reader *r, uint8_t id[JOURNAL_ID_LEN])
{
	if (!r->has_id)
		return -ENODATA;
	memcpy(id, r->id, JOURNAL_ID_LEN);
	return 0;
}

void journal_id_hex(const uint8_t id[JOURNAL_ID_LEN], char out[JOURNAL_ID_STR])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < JOURNAL_ID_LEN; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * JOURNAL_ID_LEN] = 0;
}

int journal_reader_next(struct journal_reader *r, struct journal_entry *e)
{
	struct segment_frame f;
	int rc;

	for (;;) {
		if (r->qpos < r->qrel) {
			const struct item *it = &r->q[r->qpos++];

			*e = (struct journal_entry){
				.seq = it->seq,
				.kind = it->kind,
				.rec = r->arena + it->data,
				.len = it->len,
				.segment = r->segs[it->seg].name,
				.offset = it->offset,
				.seal = it->state,
			};
			return 1;
		}
		if (r->qpos == r->qn)
			r->qpos = r->qn = r->qrel = r->alen = 0;
		else if (r->qpos > 0)
			compact(r);
		rc = next_frame(r, &f);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (r->qn == r->qpos || r->follow)
				return 0;
			release_all(r, JOURNAL_UNSEALED);
			continue;
		}
		rc = process(r, &f);
		if (rc < 0)
			return rc;
	}
}

size_t journal_reader_faults(const struct journal_reader *r, const struct journal_fault **out)
{
	*out = r->faults;
	return r->nfaults;
}

void journal_reader_stats(const struct journal_reader *r, struct journal_stats *st)
{
	*st = r->st;
}

void journal_reader_check_end(struct journal_reader *r, bool live)
{
	uint64_t left;

	if (r->cut && !r->cut_proven)
		fault(r, 0, 0, 0, "the journal starts at seq %llu, not 0: earlier segments removed, and no retention "
		      "record sealed after the cut says so", (unsigned long long)r->cut_at.first_seq);
	if (live || !r->started)
		return;
	if (r->sr && !r->seg_damaged && (left = segment_reader_remaining(r->sr)) > 0) {
		fault(r, r->cur, segment_reader_offset(r->sr), r->expect,
		      "%llu bytes at the end of the journal are not a whole block (truncated or torn)",
		      (unsigned long long)left);
		return;
	}
	if (r->last_kind != JF_KIND_SEAL)
		fault(r, r->unsealed_seg, r->unsealed_off, r->unsealed_from,
		      "records %llu..%llu at the end are not covered by a seal", (unsigned long long)r->unsealed_from,
		      (unsigned long long)r->expect - 1);
	else if (!r->last_final)
		fault(r, r->last_seal_seg, r->last_seal_off, r->expect,
		      "the journal ends at seq %llu without the final seal of a clean close (writer running or "
		      "killed, or records after it removed)",
		      (unsigned long long)r->last_seal_seq);
}
