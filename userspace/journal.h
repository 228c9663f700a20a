/* The journal: append-only segments in one directory (format: schemas/journal.md).
 * The writer assigns sequence numbers; the reader yields records in seq order
 * with the seal state of each. */
#ifndef SANDTRAIL_JOURNAL_H
#define SANDTRAIL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

enum journal_fsync {
	JOURNAL_FSYNC_SEAL = 0, /* at every seal (default) */
	JOURNAL_FSYNC_ALWAYS,   /* after every record */
	JOURNAL_FSYNC_NONE,
};

struct journal_config {
	const char *dir;
	const char *key_path;    /* signing key file */
	uint32_t seal_every;     /* records between seals */
	uint32_t seal_ms;        /* milliseconds between seals */
	uint64_t segment_bytes;  /* rotate after this size */
	enum journal_fsync fsync;
};

struct journal;

/* Opens (creating the directory if needed), recovers a torn tail. */
int journal_open(struct journal **out, const struct journal_config *cfg);
/* Appends one msgpack record; *seq receives its sequence number. */
int journal_append(struct journal *j, const void *rec, size_t len, uint64_t *seq);
/* Seals when a seal is due by time; call from the event loop. */
int journal_tick(struct journal *j);
/* Final seal, fsync, close. */
int journal_close(struct journal *j);

enum journal_seal_state {
	JOURNAL_SEALED = 0,  /* covered by a valid seal */
	JOURNAL_UNSEALED,    /* after the last seal (live or crashed tail) */
	JOURNAL_BAD,         /* chain or seal does not verify */
};

struct journal_entry {
	uint64_t seq;
	const void *rec;         /* msgpack record, valid until the next call */
	size_t len;
	const char *segment;     /* file name within the directory */
	uint64_t offset;         /* byte offset of the record's frame */
	enum journal_seal_state seal;
};

struct journal_reader;

/* pubkey_path NULL: seal signatures are not checked (state UNSEALED). */
int journal_reader_open(struct journal_reader **out, const char *dir, const char *pubkey_path);
/* 1: *e filled; 0: end of journal; -errno on I/O error.  After 0, a later
 * call yields the records appended since (replay --follow tails this way). */
int journal_reader_next(struct journal_reader *r, struct journal_entry *e);
void journal_reader_close(struct journal_reader *r);

#endif
