/* Segment files (journal_format.h): appending compressed blocks of frames,
 * and reading them back with every length and checksum checked before use.
 * Knows framing only: chain, seals and keys are seal.c's and keys.c's. */
#ifndef SANDTRAIL_SEGMENT_H
#define SANDTRAIL_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal_format.h"

struct segment_info {
	uint64_t first_seq;
	uint64_t created_ns;
	uint64_t seal_from;
	uint32_t epoch;
	uint8_t head[JF_HASH_LEN];
	uint8_t epoch_pub[JOURNAL_PUB_LEN];
	uint8_t journal_id[JOURNAL_ID_LEN];
};

/* "<first_seq, 20 digits>.stj"; out holds JF_SEGMENT_NAME_LEN + 1 bytes. */
void segment_name(char *out, uint64_t first_seq);
/* True for a name segment_name could have made; *first_seq gets its number. */
bool segment_name_parse(const char *name, uint64_t *first_seq);
/* The first seqs of the segment files in dirfd, ascending (malloc'd). */
int segment_list(int dirfd, uint64_t **firsts, size_t *n);
/* Creates name in dirfd (O_EXCL) with its header; returns an O_APPEND fd or -errno. */
int segment_create(int dirfd, const char *name, const struct segment_info *info);
void segment_header_encode(struct jf_segment_header *h, const struct segment_info *info);
/* -EPROTO for a segment of another format version, -EBADMSG when magic,
 * size, flags or checksum are wrong. */
int segment_header_decode(const void *p, size_t len, struct segment_info *info);
/* The format version of a sandtrail segment header other than JF_VERSION; 0
 * when it is this version or no segment header at all. */
uint32_t segment_header_version(const void *p, size_t len);

struct segment_writer;

/* zstd's levels this writer takes: negative ones trade size for speed; the
 * ultra levels above 19 would need far more memory */
#define SEGMENT_LEVEL_MIN (-7)
#define SEGMENT_LEVEL_MAX 19

/* Blocks as one zstd frame each at level (SEGMENT_LEVEL_MIN .. _MAX, not 0). */
int segment_writer_new(struct segment_writer **out, int level);
void segment_writer_free(struct segment_writer *w);
/* Appends one block (nrec frames in frames[0..ulen), their nrec chain hashes)
 * to fd with one writev; returns the bytes written, or -errno (a short write
 * is -EIO: the caller cuts it off). */
long segment_write_block(struct segment_writer *w, int fd, uint64_t first_seq, uint32_t nrec,
			 const void *frames, size_t ulen, const uint8_t *hashes);

struct segment_block {
	uint64_t offset;       /* of the block header in the file */
	uint64_t size;         /* header + stream + hashes */
	uint64_t first_seq;    /* as the header says */
	uint32_t nrec;
	const uint8_t *frames; /* decompressed, ulen bytes */
	size_t ulen;
	const uint8_t *hashes; /* nrec * 32 */
};

struct segment_frame {
	const uint8_t *hdr;         /* the frame's 16 bytes, which the chain hashes */
	uint64_t seq;
	uint8_t kind;
	const uint8_t *payload;
	uint32_t len;
	const uint8_t *hash;        /* the chain hash stored for this record */
};

/* Frame *idx of a decoded block, starting with *off = *idx = 0: 1 and *f set,
 * 0 after the last, -EBADMSG when the frames do not add up to the block. */
int segment_next_frame(const struct segment_block *b, size_t *off, uint32_t *idx, struct segment_frame *f);

struct segment_reader;

/* Reads a segment file through a window, so a segment of any size costs
 * little memory and a growing one (live journal) can be followed. */
int segment_reader_open(struct segment_reader **out, int dirfd, const char *name);
void segment_reader_close(struct segment_reader *r);
/* 1: *info filled; 0: the header is not complete (yet); -EPROTO (another
 * format version); -EBADMSG; -errno. */
int segment_reader_header(struct segment_reader *r, struct segment_info *info);
/* The next block, valid until the next call: 1; 0 when no complete block is
 * there (yet); -EBADMSG when the block at segment_reader_offset() is damaged. */
int segment_reader_next(struct segment_reader *r, struct segment_block *b);
/* File offset of the next block to read. */
uint64_t segment_reader_offset(const struct segment_reader *r);
/* Bytes in the file after segment_reader_offset() (as far as it has read). */
uint64_t segment_reader_remaining(struct segment_reader *r);
/* After damage: moves to the next block that decodes. 1 found; 0 none before
 * the end of the file; -errno. */
int segment_reader_resync(struct segment_reader *r);
/* For a damaged or partial block at the offset: its record count if at least
 * its header's magic is there, else 0. */
uint32_t segment_reader_peek_nrec(struct segment_reader *r);

#endif
