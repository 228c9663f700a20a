/* journal.highwater: {"journal":"<id>","next":N}, written atomically; every
 * record below N was durable (sealed, synced) when it was written, so a
 * crash never leaves the journal behind it.  Checked against the journal's
 * last segment only (journal_reader_follow from its end): cheap at start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "highwater.h"
#include "journal/journal.h"

/* The first seq of the last segment in dir (by its name: the reader checks
 * the name against the contents). */
static int last_segment(const char *dir, uint64_t *first)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool any = false;

	if (!d)
		return -errno;
	*first = 0;
	while ((e = readdir(d))) {
		unsigned long long v;
		int end = 0;

		if (strlen(e->d_name) == 24 && sscanf(e->d_name, "%20llu.stj%n", &v, &end) == 1 && end == 24) {
			*first = v > *first ? v : *first;
			any = true;
		}
	}
	closedir(d);
	return any ? 0 : -ENOENT;
}

/* Where the journal in dir ends: its id and next seq; -ENOENT when it has no segment. */
static int journal_end(const char *dir, char id[JOURNAL_ID_STR], uint64_t *next)
{
	struct journal_reader *r;
	struct journal_entry e;
	uint8_t raw[JOURNAL_ID_LEN];
	uint64_t from = 0;
	int rc;

	*next = 0;
	rc = last_segment(dir, &from);
	if (rc < 0)
		return rc;
	rc = journal_reader_open(&r, dir, NULL);
	if (rc < 0)
		return rc;
	*next = from;
	rc = journal_reader_follow(r, from);
	while (rc >= 0 && (rc = journal_reader_next(r, &e)) == 1)
		*next = e.seq + 1;
	if (rc >= 0)
		rc = journal_reader_id(r, raw) < 0 ? -ENOENT : 0;
	if (rc == 0)
		journal_id_hex(raw, id);
	journal_reader_close(r);
	return rc;
}

int highwater_check(const char *journal_dir, const char *state_dir, char *err, size_t errlen)
{
	char text[256], id[JOURNAL_ID_STR];
	const char *want;
	uint64_t next;
	json_int_t seen;
	json_t *o;
	ssize_t n;
	int dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (dirfd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = atomicfile_read(dirfd, HIGHWATER_FILE, text, sizeof(text));
	close(dirfd);
	if (n == -ENOENT)
		return 0;
	if (n < 0)
		return (int)n;
	o = json_loads(text, 0, NULL);
	want = json_string_value(json_object_get(o, "journal"));
	seen = json_integer_value(json_object_get(o, "next"));
	if (!want || strlen(want) != JOURNAL_ID_STR - 1 || seen < 0) {
		json_decref(o);
		snprintf(err, errlen, "%s/%s: not a highwater file (remove it to start afresh)", state_dir, HIGHWATER_FILE);
		return -EBADMSG;
	}
	rc = journal_end(journal_dir, id, &next);
	if (rc == -ENOENT || (rc == 0 && strcmp(id, want))) {
		rc = 0; /* another journal: a new one starts its own history */
	} else if (rc == 0 && next < (uint64_t)seen) {
		snprintf(err, errlen,
			 "the journal ends at seq %" PRIu64 " but had reached seq %" PRIu64 " (%s/%s): an older copy was "
			 "put back or its tail removed; refusing to write on it (sandtrail verify --kafka or --anchor "
			 "tells what is missing; remove the file to accept this journal)",
			 next, (uint64_t)seen, state_dir, HIGHWATER_FILE);
		rc = -ESTALE;
	} else if (rc < 0) {
		snprintf(err, errlen, "reading where %s ends: %s", journal_dir, strerror(-rc));
	}
	json_decref(o);
	return rc;
}

int highwater_save(const char *state_dir, const char *id_hex, uint64_t next)
{
	char text[128];
	int dirfd, rc, n;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	n = snprintf(text, sizeof(text), "{\"journal\":\"%s\",\"next\":%" PRIu64 "}\n", id_hex, next);
	rc = atomicfile_write(dirfd, HIGHWATER_FILE, text, (size_t)n);
	close(dirfd);
	return rc;
}
