/* A journal rebuilt from a central copy (records shipped to Kafka): the
 * records are written back into segment files, their chain recomputed from
 * what was shipped, so that the one reader there is checks them as it checks
 * the host's journal (chain, seals, epoch keys, seq continuity).  A gap
 * starts a new segment: the reader reports the seqs missing before it. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "seal.h"
#include "segment.h"

struct rebuild {
	int dirfd, fd;
	struct segment_writer *sw;
	struct crypto_sha256 *sha;
	uint8_t head[JF_HASH_LEN];
	uint8_t *frames, *hashes;
	size_t flen;
	uint32_t nrec;
	uint64_t block_first;
};

#define BLOCK_BYTES (128u << 10)

static int flush(struct rebuild *b)
{
	long n;

	if (!b->nrec)
		return 0;
	n = segment_write_block(b->sw, b->fd, b->block_first, b->nrec, b->frames, b->flen, b->hashes);
	b->nrec = 0;
	b->flen = 0;
	return n < 0 ? (int)n : 0;
}

static int start_segment(struct rebuild *b, const uint8_t id[JOURNAL_ID_LEN], const uint8_t pub[JOURNAL_PUB_LEN],
			 uint64_t first)
{
	struct segment_info info = { .first_seq = first };
	char name[JF_SEGMENT_NAME_LEN + 1];
	int rc = flush(b);

	if (rc < 0)
		return rc;
	if (b->fd >= 0)
		close(b->fd);
	/* after a gap the chain cannot be linked: the reader says what is missing */
	memcpy(info.head, b->head, JF_HASH_LEN);
	memcpy(info.epoch_pub, pub, JOURNAL_PUB_LEN);
	memcpy(info.journal_id, id, JOURNAL_ID_LEN);
	segment_name(name, first);
	b->fd = segment_create(b->dirfd, name, &info);
	return b->fd < 0 ? b->fd : 0;
}

static int add(struct rebuild *b, const struct journal_import *r)
{
	struct jf_frame fr = { .len = htole32((uint32_t)r->len), .kind = r->kind, .seq = htole64(r->seq) };
	int rc;

	if (b->nrec && b->flen + sizeof(fr) + r->len > BLOCK_BYTES && (rc = flush(b)) < 0)
		return rc;
	if (!b->nrec)
		b->block_first = r->seq;
	rc = seal_chain(b->sha, b->head, &fr, r->rec, r->len, b->hashes + (size_t)b->nrec * JF_HASH_LEN);
	if (rc < 0)
		return rc;
	memcpy(b->head, b->hashes + (size_t)b->nrec * JF_HASH_LEN, JF_HASH_LEN);
	memcpy(b->frames + b->flen, &fr, sizeof(fr));
	memcpy(b->frames + b->flen + sizeof(fr), r->rec, r->len);
	b->flen += sizeof(fr) + r->len;
	b->nrec++;
	return 0;
}

int journal_rebuild(const char *dir, const uint8_t id[JOURNAL_ID_LEN], const uint8_t root_pub[JOURNAL_PUB_LEN],
		    const struct journal_import *recs, size_t n)
{
	struct rebuild b = { .fd = -1 };
	size_t max_frames = BLOCK_BYTES / sizeof(struct jf_frame) + 1;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		if (recs[i].len > JF_RECORD_MAX || recs[i].kind > JF_KIND_MAX || (i && recs[i].seq <= recs[i - 1].seq))
			return -EINVAL;
	b.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.dirfd < 0)
		return -errno;
	b.frames = malloc(BLOCK_BYTES + sizeof(struct jf_frame) + JF_RECORD_MAX);
	b.hashes = malloc(max_frames * JF_HASH_LEN);
	if (!b.frames || !b.hashes)
		rc = -ENOMEM;
	if (rc == 0)
		rc = segment_writer_new(&b.sw, 1);
	if (rc == 0)
		rc = crypto_sha256_new(&b.sha);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (i == 0 || recs[i].seq != recs[i - 1].seq + 1)
			rc = start_segment(&b, id, root_pub, recs[i].seq);
		if (rc == 0 && b.nrec == max_frames)
			rc = flush(&b);
		if (rc == 0)
			rc = add(&b, &recs[i]);
	}
	if (rc == 0)
		rc = flush(&b);
	if (b.fd >= 0)
		close(b.fd);
	close(b.dirfd);
	segment_writer_free(b.sw);
	crypto_sha256_free(b.sha);
	free(b.frames);
	free(b.hashes);
	return rc;
}
