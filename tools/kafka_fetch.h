/* The central copy: a journal read back from the Kafka topic the kafka sink
 * ships to (sandtrail replay --kafka, verify --kafka). */
#ifndef SANDTRAIL_KAFKA_FETCH_H
#define SANDTRAIL_KAFKA_FETCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/journal.h"

struct kafka_record {
	char journal[JOURNAL_ID_STR];
	uint64_t seq;
	uint8_t kind;
	void *rec;  /* the msgpack record */
	size_t len;
	bool sealed; /* set by the caller: a valid seal covers it in the copy */
};

struct kafka_copy {
	struct kafka_record *v; /* sorted by (journal, seq), each once */
	size_t n, cap;
	uint64_t duplicates;    /* messages of a record already read (shipped again after a crash) */
	uint64_t foreign;       /* messages that are no msgpack record of sandtrail's (format=json, others) */
};

/* Every message of topic, every partition from its start to its end: 0, or
 * -errno with a one-line reason in err. */
int kafka_fetch(const char *brokers, const char *topic, struct kafka_copy *c, char *err, size_t errlen);
void kafka_copy_free(struct kafka_copy *c);
/* The one journal the copy holds (want: that one): 0, -EINVAL when there are
 * several and want is NULL, -ENOENT when none; err says which. */
int kafka_copy_journal(const struct kafka_copy *c, const char *want, char out[JOURNAL_ID_STR], char *err,
		       size_t errlen);
/* Fetches topic and writes its journal (want, or the only one there; its id
 * into journal) as segment files into a new temporary directory dir, which
 * replay and verify then read: 0, or -errno with a reason in err. */
int kafka_journal_dir(const char *brokers, const char *topic, const char *want, struct kafka_copy *c,
		      char journal[JOURNAL_ID_STR], char dir[PATH_MAX], char *err, size_t errlen);
void kafka_journal_dir_remove(const char *dir);

#endif
