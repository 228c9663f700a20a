/* journal_tamper: what an attacker with write access to the journal files
 * does, through the journal's own format code, so that each test's tampering
 * survives framing checks and reaches the chain and seal checks.
 *
 * journal_tamper edit SEGMENT SEQ      flip a byte of record SEQ's payload
 * journal_tamper delete SEGMENT SEQ    remove record SEQ
 * journal_tamper swap SEGMENT SEQ      swap records SEQ and SEQ + 1
 * journal_tamper locate SEGMENT SEQ    print "OFFSET FIRST_SEQ" of the block holding SEQ
 * journal_tamper forge DIR SEQ KEYFILE alter record SEQ, then rebuild the chain to the
 *     end and re-sign every seal and epoch certificate with KEYFILE's key (a later
 *     epoch's key, as an attacker who takes the host later has); prints the seq of
 *     the first seal it re-signed. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal/keys.h"
#include "journal/journal.h"
#include "journal/seal.h"
#include "journal/segment.h"

struct rec_copy {
	uint8_t kind;
	uint64_t seq;
	uint8_t *payload;
	uint32_t len;
	uint8_t hash[JF_HASH_LEN];
};

struct block_copy {
	uint64_t offset;
	struct rec_copy *recs;
	uint32_t n;
};

struct seg_copy {
	struct segment_info info;
	struct block_copy *blocks;
	size_t n;
};

static void die(const char *what)
{
	fprintf(stderr, "journal_tamper: %s\n", what);
	exit(2);
}

static void load(const char *path, struct seg_copy *s)
{
	struct segment_reader *r;
	struct segment_block b;
	int rc;

	memset(s, 0, sizeof(*s));
	if (segment_reader_open(&r, AT_FDCWD, path) < 0 || segment_reader_header(r, &s->info) != 1)
		die("cannot read the segment header");
	while ((rc = segment_reader_next(r, &b)) == 1) {
		struct block_copy *bc;
		struct segment_frame f;
		size_t off = 0;
		uint32_t idx = 0;

		s->blocks = realloc(s->blocks, (s->n + 1) * sizeof(*s->blocks));
		bc = &s->blocks[s->n++];
		*bc = (struct block_copy){ .offset = b.offset, .recs = calloc(b.nrec, sizeof(struct rec_copy)) };
		while (segment_next_frame(&b, &off, &idx, &f) == 1) {
			struct rec_copy *rc_ = &bc->recs[bc->n++];

			rc_->kind = f.kind;
			rc_->seq = f.seq;
			rc_->len = f.len;
			rc_->payload = malloc(f.len ? f.len : 1);
			memcpy(rc_->payload, f.payload, f.len);
			memcpy(rc_->hash, f.hash, JF_HASH_LEN);
		}
	}
	if (rc < 0)
		die("damaged block");
	segment_reader_close(r);
}

static void store(const char *path, const struct seg_copy *s)
{
	char tmp[4096], *dup = strdup(path), *dir = dirname(dup);
	struct segment_writer *w;
	uint8_t *frames, *hashes;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/.tamper.tmp", dir);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || segment_writer_new(&w, 1) < 0)
		die("cannot write the segment");
	{
		struct jf_segment_header h;

		segment_header_encode(&h, &s->info);
		if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h))
			die("write");
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct block_copy *bc = &s->blocks[i];
		size_t ulen = 0;

		if (bc->n == 0)
			continue;
		for (uint32_t k = 0; k < bc->n; k++)
			ulen += sizeof(struct jf_frame) + bc->recs[k].len;
		frames = malloc(ulen);
		hashes = malloc((size_t)bc->n * JF_HASH_LEN);
		ulen = 0;
		for (uint32_t k = 0; k < bc->n; k++) {
			const struct rec_copy *rc_ = &bc->recs[k];
			struct jf_frame fr = { .len = htole32(rc_->len), .kind = rc_->kind, .seq = htole64(rc_->seq) };

			memcpy(frames + ulen, &fr, sizeof(fr));
			memcpy(frames + ulen + sizeof(fr), rc_->payload, rc_->len);
			ulen += sizeof(fr) + rc_->len;
			memcpy(hashes + (size_t)k * JF_HASH_LEN, rc_->hash, JF_HASH_LEN);
		}
		if (segment_write_block(w, fd, bc->recs[0].seq, bc->n, frames, ulen, hashes) < 0)
			die("write block");
		free(frames);
		free(hashes);
	}
	close(fd);
	segment_writer_free(w);
	if (rename(tmp, path) < 0)
		die("rename");
	free(dup);
}

static struct rec_copy *find(struct seg_copy *s, uint64_t seq, struct block_copy **blk, uint32_t *idx)
{
	for (size_t i = 0; i < s->n; i++)
		for (uint32_t k = 0; k < s->blocks[i].n; k++)
			if (s->blocks[i].recs[k].seq == seq) {
				*blk = &s->blocks[i];
				*idx = k;
				return &s->blocks[i].recs[k];
			}
	die("no such seq in the segment");
	return NULL;
}

static uint64_t parse_seq(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*end || !*s)
		die("SEQ must be a number");
	return v;
}

/* Every record from seq on: rebuilt chain, seals and certificates signed with k. */
static int forge(const char *dir, uint64_t seq, const char *key_path)
{
	uint8_t head[JF_HASH_LEN];
	uint64_t first_resigned = UINT64_MAX;
	struct crypto_sha256 *sha;
	uint64_t *firsts;
	struct keys k;
	struct rec rb;
	bool started = false;
	size_t n;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0 || segment_list(dirfd, &firsts, &n) < 0 || keys_load(key_path, &k) < 0 ||
	    crypto_sha256_new(&sha) < 0)
		die("cannot read the journal or the key");
	rec_init(&rb);
	for (size_t i = 0; i < n; i++) {
		char name[JF_SEGMENT_NAME_LEN + 1], path[4096];
		struct seg_copy s;

		segment_name(name, firsts[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		load(path, &s);
		if (started)
			memcpy(s.info.head, head, JF_HASH_LEN);
		for (size_t b = 0; b < s.n; b++) {
			for (uint32_t x = 0; x < s.blocks[b].n; x++) {
				struct rec_copy *r = &s.blocks[b].recs[x];
				struct jf_frame fr = { .len = htole32(r->len), .kind = r->kind, .seq = htole64(r->seq) };
				const void *p;
				size_t len;

				if (r->seq == seq) {
					started = true;
					r->payload[r->len - 1] ^= 0x01;
				}
				if (!started) {
					memcpy(head, r->hash, JF_HASH_LEN);
					continue;
				}
				if (r->kind == JF_KIND_SEAL) {
					struct seal_info si;

					if (seal_parse(r->payload, r->len, &si) < 0)
						die("seal");
					char kid[JOURNAL_KEY_ID_STR];

					/* keeps the key id it claims: only the signature can tell */
					memcpy(kid, si.key_id, sizeof(kid));
					memcpy(si.head, head, JF_HASH_LEN);
					seal_sign(&si, k.seed, k.pub);
					memcpy(si.key_id, kid, sizeof(kid));
					seal_record(&rb, &si);
					p = rec_finish(&rb, &len);
					if (first_resigned == UINT64_MAX)
						first_resigned = r->seq;
				} else if (r->kind == JF_KIND_EPOCH) {
					struct seal_epoch e;

					if (seal_epoch_parse(r->payload, r->len, &e) < 0)
						die("epoch");
					memcpy(e.head, head, JF_HASH_LEN);
					seal_epoch_certify(&e, k.seed);
					seal_epoch_record(&rb, &e);
					p = rec_finish(&rb, &len);
				} else {
					p = NULL;
					len = 0;
				}
				if (p) {
					free(r->payload);
					r->payload = malloc(len);
					memcpy(r->payload, p, len);
					r->len = (uint32_t)len;
					fr.len = htole32(r->len);
				}
				seal_chain(sha, head, &fr, r->payload, r->len, r->hash);
				memcpy(head, r->hash, JF_HASH_LEN);
			}
		}
		if (started)
			store(path, &s);
	}
	if (!started)
		die("no such seq in the journal");
	printf("%" PRIu64 "\n", first_resigned);
	return 0;
}

int main(int argc, char **argv)
{
	struct block_copy *blk;
	struct seg_copy s;
	struct rec_copy *r;
	uint64_t seq;
	uint32_t idx;

	if (argc == 5 && !strcmp(argv[1], "forge"))
		return forge(argv[2], parse_seq(argv[3]), argv[4]);
	if (argc != 4)
		die("usage: edit|delete|swap|locate SEGMENT SEQ, or forge DIR SEQ KEYFILE");
	seq = parse_seq(argv[3]);
	load(argv[2], &s);
	r = find(&s, seq, &blk, &idx);
	if (!strcmp(argv[1], "locate")) {
		printf("%" PRIu64 " %" PRIu64 "\n", blk->offset, blk->recs[0].seq);
		return 0;
	}
	if (!strcmp(argv[1], "edit")) {
		r->payload[r->len / 2] ^= 0x20;
	} else if (!strcmp(argv[1], "delete")) {
		free(r->payload);
		memmove(r, r + 1, (blk->n - idx - 1) * sizeof(*r));
		blk->n--;
	} else if (!strcmp(argv[1], "swap")) {
		struct rec_copy t;

		if (idx + 1 >= blk->n)
			die("SEQ + 1 is not in the same block");
		t = r[0];
		r[0] = r[1];
		r[1] = t;
	} else {
		die("unknown operation");
	}
	store(argv[2], &s);
	return 0;
}
