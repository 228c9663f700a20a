/* The journal: sealed, append-only segments in one directory (format:
 * schemas/journal.md, journal_format.h).  This header and record.h are the
 * journal's public face: the collector writes through it; replay, verify and
 * the exporters read through it.  The writer assigns
 * sequence numbers, chains every record to the previous one and signs
 * checkpoints; the reader yields records in seq order with the seal state of
 * each, checking the chain, the seals and the epoch keys as it goes. */
#ifndef SANDTRAIL_JOURNAL_H
#define SANDTRAIL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define JOURNAL_DEFAULT_DIR "/var/lib/sandtrail/journal"
/* where sandtraild --create-key (the unit's) puts the public key: replay's
 * and verify's default */
#define JOURNAL_DEFAULT_PUBKEY "/etc/sandtrail/signing.pub"

enum journal_fsync {
	JOURNAL_FSYNC_SEAL = 0, /* at every seal (default) */
	JOURNAL_FSYNC_ALWAYS,   /* each record written at once, synced by the next batch */
	JOURNAL_FSYNC_NONE,
};

struct journal_config {
	const char *dir;
	const char *key_path;    /* signing key file (sandtrail keygen, keys_create) */
	uint32_t seal_every;     /* records between seals */
	uint32_t seal_ms;        /* milliseconds between seals (journal_tick, journal_append) */
	uint64_t segment_bytes;  /* rotate after this size */
	enum journal_fsync fsync;
	uint32_t epoch_ms;       /* evolve the signing key every this many ms */
	uint32_t epoch_seals;    /* ... or every this many seals; 0: never by count */
	uint32_t block_bytes;    /* records per compressed block, in uncompressed bytes */
	int compress_level;      /* zstd's, -7 (fastest) .. 19; 0 is the default */
	char *err;               /* optional: a one-line reason when journal_open fails */
	size_t err_len;
};

/* seal_every 262144, seal_ms 20, segment_bytes 64 MiB, fsync at seals,
 * epoch_ms 60000, epoch_seals 0, block_bytes 128 KiB, compress_level 1.
 * journal_open also takes 0 in seal_every, segment_bytes, epoch_ms,
 * block_bytes and compress_level for these defaults. */
void journal_config_defaults(struct journal_config *cfg);

struct journal;

/* Opens (creating the directory if needed) and recovers a torn tail; writes a
 * `recovery` record after an unclean shutdown.  -ENOKEY: no key file;
 * -EKEYREJECTED: the key is not this journal's; -EBADMSG: damage that is not
 * a torn tail (see cfg->err). */
int journal_open(struct journal **out, const struct journal_config *cfg);
/* Appends one msgpack record; *seq receives its sequence number. */
int journal_append(struct journal *j, const void *rec, size_t len, uint64_t *seq);
/* Seals (and evolves the key) when due by time; call at least every seal_ms.
 * Reports a failed seal or key evolution (journal_append stores the record
 * and leaves those to this call). */
int journal_tick(struct journal *j);
/* Seals what is not sealed yet, now (a session's end waits for it). */
int journal_seal(struct journal *j);
/* *through: every record below this seq is sealed and on disk (written only,
 * with fsync none).  Returns a failed seal or sync (the journal then
 * refuses every later append), else 0.  The disk waits run on a thread. */
int journal_durable(struct journal *j, uint64_t *through);
/* An eventfd, readable when journal_durable may have advanced (read it to
 * rearm it); -1 with fsync none, where it advances at each seal. */
int journal_fd(const struct journal *j);
/* Final seal, fsync, segment made read-only, close. */
int journal_close(struct journal *j);
/* The seq the next record will get. */
uint64_t journal_next_seq(const struct journal *j);
/* true when journal_open found an unclean end (its writer died): sessions
 * it left open may have been cut off. */
bool journal_recovered(const struct journal *j);

struct journal_retention {
	uint64_t bytes;          /* keep the journal under this size (0: no limit) */
	uint64_t age_ns;         /* remove what is older than this (0: no limit) */
};

/* The bytes of the journal's segment files on disk (what --retain-bytes
 * bounds). */
int journal_disk_bytes(struct journal *j, uint64_t *bytes);

/* Removes the oldest closed segments that are past retention (the journal
 * over p->bytes, or every record of the segment older than p->age_ns) and
 * hold only seqs below shipped_below (UINT64_MAX: no exporter waits).  The
 * removal is first written as a `retention` record, sealed and synced, so
 * that verify accepts the cut journal (schemas/journal.md, "Retention").
 * Returns the segments removed, -EAGAIN when segments past retention wait
 * for the exporters, or -errno with a one-line reason in err (a failed
 * append or seal breaks the journal as any would). */
int journal_retain(struct journal *j, const struct journal_retention *p, uint64_t shipped_below, char *err,
		   size_t errlen);

enum journal_seal_state {
	JOURNAL_SEALED = 0,  /* covered by a valid seal */
	JOURNAL_UNSEALED,    /* after the last seal (live or crashed tail), or no key given */
	JOURNAL_BAD,         /* chain or seal does not verify */
};

/* What wrote a record (its frame's kind, schemas/journal.md). */
enum journal_kind {
	JOURNAL_KIND_RECORD = 0,   /* an event from the collector */
	JOURNAL_KIND_SEAL = 1,     /* a signed checkpoint */
	JOURNAL_KIND_EPOCH = 2,    /* a signing key taking over */
	JOURNAL_KIND_RECOVERY = 3, /* a torn tail cut on open */
};

struct journal_entry {
	uint64_t seq;
	uint8_t kind;            /* enum journal_kind */
	const void *rec;         /* msgpack record, valid until the next call */
	size_t len;
	const char *segment;     /* file name within the directory (the path given, for files) */
	uint64_t offset;         /* byte offset of the block holding the record's frame */
	enum journal_seal_state seal;
};

struct journal_reader;

#define JOURNAL_ID_LEN 16  /* random, drawn when a journal begins; in every segment header */
#define JOURNAL_ID_STR 33  /* in hex, NUL-terminated */

/* The id of the journal a writer writes. */
void journal_id(const struct journal *j, uint8_t id[JOURNAL_ID_LEN]);

/* The id in lowercase hex. */
void journal_id_hex(const uint8_t id[JOURNAL_ID_LEN], char out[JOURNAL_ID_STR]);

/* pubkey_path NULL: seal signatures are not checked (state UNSEALED). */
int journal_reader_open(struct journal_reader **out, const char *dir, const char *pubkey_path);
/* The same over a list of segment files, in any order. */
int journal_reader_open_files(struct journal_reader **out, char *const *paths, size_t n,
			      const char *pubkey_path);
/* Follow mode, for readers that ship a live journal (the exporters): call
 * before the first journal_reader_next.  Records come only once a seal
 * covers them (an unsealed tail waits for its seal, or for the recovery seal
 * of the writer's next start), from from_seq on.  Reading starts at the
 * segment holding from_seq (or the first one there is), whose header is taken
 * as given: what precedes it is not read, and a journal that no longer
 * starts at seq 0 is not a fault. */
int journal_reader_follow(struct journal_reader *r, uint64_t from_seq);
/* 1: *e filled; 0: end of journal for now (a later call returns what was
 * appended since, also across rotation); -errno on I/O error. */
int journal_reader_next(struct journal_reader *r, struct journal_entry *e);
/* The journal's id, once a segment header has been read: 0, else -ENODATA. */
int journal_reader_id(const struct journal_reader *r, uint8_t id[JOURNAL_ID_LEN]);
void journal_reader_close(struct journal_reader *r);

struct journal_fault {
	const char *segment;
	uint64_t offset;         /* of the block (or segment header) at fault */
	uint64_t seq;            /* the first seq concerned */
	const char *what;        /* one line */
};

struct journal_stats {
	uint64_t records, seals, epochs, segments;
	uint64_t faults;         /* all found; the first JOURNAL_FAULTS_KEPT are kept */
};

#define JOURNAL_FAULTS_KEPT 32

/* The faults found so far, in the order found. */
size_t journal_reader_faults(const struct journal_reader *r, const struct journal_fault **out);
void journal_reader_stats(const struct journal_reader *r, struct journal_stats *st);
/* Once journal_reader_next returned 0: records faults for an unfinished end
 * (a partial block, records after the last seal, a last seal that is not the
 * final one of a clean close).  live: the journal may still be written, so
 * none of these is a fault. */
void journal_reader_check_end(struct journal_reader *r, bool live);

/* Key files (sandtrail keygen and verify, sandtraild --create-key). */
#define JOURNAL_PUB_LEN 32                          /* Ed25519 public key */
#define JOURNAL_PUB_PREFIX "sandtrail-ed25519-pub " /* a public key file: this, 64 hex digits, newline */
#define JOURNAL_KEY_ID_STR 17                       /* a key id in hex, NUL-terminated */

/* The public key file beside a key file: "x.key" -> "x.pub", else "x" -> "x.pub". */
int keys_pub_path(const char *key_path, char *out, size_t len);
/* Creates an epoch-0 key at key_path (0600; -EEXIST if it exists) and its
 * public key file (0644) beside it, and their directory (0700) if missing;
 * leaves neither file behind on failure. */
int keys_create(const char *key_path);
/* -ENOENT..., -EBADMSG when the file is not one line JOURNAL_PUB_PREFIX + 64 hex. */
int keys_read_pub(const char *path, uint8_t pub[JOURNAL_PUB_LEN]);
/* Hex of the first bytes of SHA-256(pub): how seals name their key. */
void seal_key_id(const uint8_t pub[JOURNAL_PUB_LEN], char out[JOURNAL_KEY_ID_STR]);

/* A record of a journal kept elsewhere (a central copy, such as Kafka). */
struct journal_import {
	uint64_t seq;
	uint8_t kind;            /* enum journal_kind */
	const void *rec;
	size_t len;
};

/* Writes recs (ascending, distinct seqs) into dir (empty) as segment files
 * of journal id, their chain recomputed, so that journal_reader_open checks
 * them as any journal; a gap in the seqs starts a new segment, which the
 * reader reports as missing records.  root_pub: the key verify is given.
 * -EINVAL when recs are not in order or not records at all. */
int journal_rebuild(const char *dir, const uint8_t id[JOURNAL_ID_LEN], const uint8_t root_pub[JOURNAL_PUB_LEN],
		    const struct journal_import *recs, size_t n);

/* Anchors: a seal published off the host as one line of text (the systemd
 * journal, syslog), "sandtrail-anchor journal=<id> seq=<n> seal=<hex of the
 * seal record>" (schemas/journal.md, "Anchors"). */
#define JOURNAL_ANCHOR_PREFIX "sandtrail-anchor "
#define JOURNAL_ANCHOR_SEAL_MAX 1024 /* bytes of a seal record */
#define JOURNAL_ANCHOR_LINE_MAX (sizeof(JOURNAL_ANCHOR_PREFIX) + 96 + 2 * JOURNAL_ANCHOR_SEAL_MAX)

struct journal_anchor {
	char journal[JOURNAL_ID_STR];
	uint64_t seq;
	uint8_t rec[JOURNAL_ANCHOR_SEAL_MAX];
	size_t len;
};

/* The line of a seal (no newline): its length, -EINVAL when the record is
 * too large, -ENOSPC when out is too small (JOURNAL_ANCHOR_LINE_MAX is not). */
int journal_anchor_format(char *out, size_t size, const char *journal, uint64_t seq, const void *rec, size_t len);
/* s[0..len): a line beginning with JOURNAL_ANCHOR_PREFIX (a trailing newline
 * or spaces allowed).  0, or -EBADMSG with the field at fault in *why. */
int journal_anchor_parse(const char *s, size_t len, struct journal_anchor *a, const char **why);

#endif
