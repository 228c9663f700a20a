/* The journal's on-disk format, version 2: every byte a segment file or a key
 * file holds is described here and documented in schemas/journal.md.
 * Multi-byte integers are little-endian (le*_t, converted with htole / letoh
 * at the edges); structs have no holes (asserted below) and are written as
 * they are. */
#ifndef SANDTRAIL_JOURNAL_FORMAT_H
#define SANDTRAIL_JOURNAL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h" /* JOURNAL_PUB_LEN, JOURNAL_PUB_PREFIX: the key files' public face */

typedef uint32_t le32_t;
typedef uint64_t le64_t;

#define JF_VERSION 2
#define JF_HASH_LEN 32 /* SHA-256 */
#define JF_SEED_LEN 32 /* Ed25519 private seed */
#define JF_SIG_LEN 64  /* Ed25519 signature */
#define JF_KEYID_LEN 8 /* key id: first bytes of SHA-256(public key) */

/* ---- segment file: "<first seq, 20 decimal digits>.stj" ----
 * A header, then blocks until the end of the file. */
#define JF_SEGMENT_MAGIC "STJSEG\0\1"
#define JF_SEGMENT_SUFFIX ".stj"
#define JF_SEGMENT_NAME_LEN (20 + 4)

struct jf_segment_header {
	uint8_t magic[8];
	le32_t version;
	le32_t header_size;
	le64_t first_seq;            /* seq of the first record in the segment */
	le64_t created_ns;
	le64_t seal_from;            /* first seq the next seal covers: the last seal's seq (0 before any) */
	le32_t epoch;                /* signing epoch in force before first_seq */
	le32_t flags;                /* none defined; must be 0 */
	uint8_t head[JF_HASH_LEN];   /* chain hash of record first_seq - 1 (zeros at seq 0) */
	uint8_t epoch_pub[JOURNAL_PUB_LEN]; /* that epoch's public key */
	uint8_t journal_id[JOURNAL_ID_LEN]; /* random, drawn when the journal began (v2) */
	le32_t reserved;             /* 0 */
	le32_t crc;                  /* crc32 of the bytes before it */
};

/* ---- block: one write(), one compressed stream of frames, then the hashes ----
 * header | zlen bytes: the stream of nrec frames, ulen bytes once
 * decompressed | nrec * 32 bytes: each record's chain hash, in order.
 * flags name the stream's codec, exactly one: zstd (one frame) is what this
 * version writes; zlib (RFC 1950) is what it wrote before and still reads.
 * The hashes are kept out of the stream because they do not compress and
 * only slow the compressor down. */
#define JF_BLOCK_MAGIC 0x424a5453u /* "STJB" */
#define JF_BLOCK_ZLIB 0x1u         /* flags: the stream is zlib (every block before zstd) */
#define JF_BLOCK_ZSTD 0x2u         /* flags: the stream is one zstd frame */

struct jf_block_header {
	le32_t magic;
	le32_t flags;
	le32_t zlen;       /* compressed stream bytes */
	le32_t ulen;       /* decompressed stream bytes */
	le64_t first_seq;  /* seq of the block's first frame */
	le32_t nrec;
	le32_t crc;        /* crc32 of the 28 bytes before it, then of the zlen + 32 * nrec bytes after */
};

/* A record inside the decompressed stream: frame header then len payload bytes
 * (a msgpack map, schemas/record.md).  Chain: hash(seq) = SHA-256(hash(seq - 1)
 * || the 16 frame bytes || payload), hash(-1) = 32 zero bytes. */
enum jf_kind {
	JF_KIND_RECORD = JOURNAL_KIND_RECORD,     /* an event from the collector */
	JF_KIND_SEAL = JOURNAL_KIND_SEAL,         /* a signed checkpoint (type "seal") */
	JF_KIND_EPOCH = JOURNAL_KIND_EPOCH,       /* a signing key taking over (type "epoch") */
	JF_KIND_RECOVERY = JOURNAL_KIND_RECOVERY, /* a torn tail was cut on open (type "recovery") */
	JF_KIND_MAX = JF_KIND_RECOVERY,
};

struct jf_frame {
	le32_t len;
	uint8_t kind;      /* enum jf_kind */
	uint8_t zero[3];
	le64_t seq;
};

#define JF_RECORD_MAX (1u << 20)          /* payload bytes of one record */
#define JF_BLOCK_ULEN_MAX (8u << 20)      /* decompressed bytes of one block */
#define JF_BLOCK_NREC_MAX (JF_BLOCK_ULEN_MAX / sizeof(struct jf_frame))
#define JF_BLOCK_ZLEN_MAX (JF_BLOCK_ULEN_MAX + (JF_BLOCK_ULEN_MAX >> 6) + 4096)

/* ---- key file: one 512-byte sector, rewritten in place at every epoch ----
 * Holds the current epoch's private seed, so the previous epoch's seed is
 * overwritten by the same write that stores the next one. */
#define JF_KEY_MAGIC "STJKEY\0\1"
#define JF_KEY_FILE_SIZE 512

struct jf_key_file {
	uint8_t magic[8];
	le32_t version;
	le32_t epoch;
	le64_t start_seq;               /* seq of the epoch record that certifies this key */
	le64_t created_ns;              /* the certificate's time */
	uint8_t seed[JF_SEED_LEN];
	uint8_t pub[JOURNAL_PUB_LEN];
	uint8_t root_pub[JOURNAL_PUB_LEN];   /* epoch 0's key: the one verifiers trust */
	uint8_t head[JF_HASH_LEN];      /* chain hash of record start_seq - 1 */
	uint8_t cert[JF_SIG_LEN];       /* epoch - 1's signature over this key (zeros at epoch 0) */
	uint8_t zero[JF_KEY_FILE_SIZE - 228];
	le32_t crc;                     /* crc32 of the bytes before it */
};

/* ---- "epochs": the epoch certificates of segments removed by retention ----
 * Appended before a retention cut, never shortened: epochs 1, 2, ... in
 * order, so that a journal whose head was cut still leads back from the
 * trusted epoch-0 key to the key in force where it now starts
 * (schemas/journal.md, "Retention"). */
#define JF_EPOCHS_FILE "epochs"

struct jf_epoch_entry {
	le64_t ts_ns;                   /* the certificate's time */
	le32_t epoch;
	le32_t zero;
	le64_t start_seq;               /* seq of the epoch record */
	uint8_t head[JF_HASH_LEN];      /* chain hash of record start_seq - 1 */
	uint8_t pub[JOURNAL_PUB_LEN];
	uint8_t cert[JF_SIG_LEN];       /* by epoch - 1's key */
};

_Static_assert(sizeof(struct jf_epoch_entry) == 152, "epochs file entry");
_Static_assert(sizeof(struct jf_segment_header) == 136, "segment header layout");
_Static_assert(offsetof(struct jf_segment_header, crc) == 132, "segment header crc");
_Static_assert(sizeof(struct jf_block_header) == 32, "block header layout");
_Static_assert(offsetof(struct jf_block_header, crc) == 28, "block header crc");
_Static_assert(sizeof(struct jf_frame) == 16, "frame layout");
_Static_assert(sizeof(struct jf_key_file) == JF_KEY_FILE_SIZE, "key file layout");
_Static_assert(offsetof(struct jf_key_file, zero) == 224, "key file fields");
_Static_assert(JOURNAL_KEY_ID_STR == 2 * JF_KEYID_LEN + 1, "key id as hex");

#endif
