/* Reading anchors back (tools/anchors.h): from the systemd journal through
 * sd-journal, or from a file of lines.  Both are logs that others write to as
 * well: the journald reader keeps only entries journald stamped as root's
 * (_UID, which a client cannot set), and an anchor is only ever compared byte
 * for byte with the host's journal, so a forged one can fail a verify, never
 * pass one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "anchors.h"

static void keep(struct journal_anchor *last, const struct journal_anchor *a, int *found)
{
	if (!*found || a->seq > last->seq)
		*last = *a;
	*found = 1;
}

/* The value of FIELD=value as returned by sd_journal_get_data. */
static const char *value_of(const void *data, size_t len, const char *field, size_t *vlen)
{
	size_t k = strlen(field);

	if (len <= k || memcmp(data, field, k) || ((const char *)data)[k] != '=')
		return NULL;
	*vlen = len - k - 1;
	return (const char *)data + k + 1;
}

int anchors_journald(const char *dir, const char *journal, struct journal_anchor *last, uint64_t *others,
		     char *err, size_t errlen)
{
	char match[64];
	const void *data;
	sd_journal *j;
	size_t len;
	int rc, found = 0;

	*others = 0;
	rc = dir ? sd_journal_open_directory(&j, dir, 0) : sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	if (rc < 0) {
		snprintf(err, errlen, "opening the systemd journal%s%s: %s", dir ? " in " : "", dir ? dir : "",
			 strerror(-rc));
		return rc;
	}
	if (sd_journal_query_unique(j, "SANDTRAIL_JOURNAL") >= 0) {
		SD_JOURNAL_FOREACH_UNIQUE(j, data, len) {
			size_t vlen;
			const char *v = value_of(data, len, "SANDTRAIL_JOURNAL", &vlen);

			*others += v && (vlen != strlen(journal) || memcmp(v, journal, vlen));
		}
	}
	snprintf(match, sizeof(match), "SANDTRAIL_JOURNAL=%s", journal);
	rc = sd_journal_add_match(j, match, 0);
	if (rc < 0)
		goto fail;
	SD_JOURNAL_FOREACH(j) {
		struct journal_anchor a;
		const char *msg, *why;
		size_t mlen;

		if (sd_journal_get_data(j, "_UID", &data, &len) < 0 || len != 6 || memcmp(data, "_UID=0", 6))
			continue; /* not sandtraild's: anyone may log these fields */
		rc = sd_journal_get_data(j, "MESSAGE", &data, &len);
		if (rc < 0)
			goto fail;
		msg = value_of(data, len, "MESSAGE", &mlen);
		if (!msg || journal_anchor_parse(msg, mlen, &a, &why) < 0) {
			snprintf(err, errlen, "the systemd journal: an entry of SANDTRAIL_JOURNAL=%s: MESSAGE: %s",
				 journal, msg ? why : "missing");
			sd_journal_close(j);
			return -EBADMSG;
		}
		if (strcmp(a.journal, journal)) {
			snprintf(err, errlen, "the systemd journal: an entry of SANDTRAIL_JOURNAL=%s anchors journal %s",
				 journal, a.journal);
			sd_journal_close(j);
			return -EBADMSG;
		}
		keep(last, &a, &found);
	}
	sd_journal_close(j);
	return found;
fail:
	snprintf(err, errlen, "reading the systemd journal: %s", strerror(-rc));
	sd_journal_close(j);
	return rc;
}

/* Where an anchor begins in the line, or NULL. */
static const char *anchor_in(const char *line)
{
	static const char key[] = JOURNAL_ANCHOR_PREFIX "journal=";

	for (const char *p = strstr(line, key); p; p = strstr(p + 1, key))
		if (p == line || p[-1] == ' ' || p[-1] == '=')
			return p;
	return NULL;
}

int anchors_file(const char *path, const char *journal, struct journal_anchor *last, uint64_t *others, char *err,
		 size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0;
	int rc = 0, found = 0;

	*others = 0;
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		struct journal_anchor a;
		const char *p, *why;

		lineno++;
		if (memchr(line, 0, (size_t)n) || !(p = anchor_in(line)))
			continue;
		if (journal_anchor_parse(p, (size_t)(line + n - p), &a, &why) < 0) {
			snprintf(err, errlen, "%s: line %llu, byte %zu: %s", path, (unsigned long long)lineno,
				 (size_t)(p - line) + 1, why);
			rc = -EBADMSG;
			break;
		}
		if (strcmp(a.journal, journal))
			(*others)++;
		else
			keep(last, &a, &found);
	}
	if (!rc && ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
	}
	free(line);
	fclose(f);
	return rc < 0 ? rc : found;
}
