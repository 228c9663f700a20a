/* The last anchor (a seal published off the host) of one journal, read back
 * from the systemd journal or from a file of anchor lines, for `sandtrail
 * verify --anchor journald|FILE`.  Each: 1 with *last filled (the highest seq
 * there), 0 when there is no anchor of that journal (*others: how many of
 * other journals), -errno with a one-line reason in err. */
#ifndef SANDTRAIL_ANCHORS_H
#define SANDTRAIL_ANCHORS_H

#include <stddef.h>
#include <stdint.h>

#include "journal/journal.h"

/* dir: journal files of the systemd journal (journalctl -D), or NULL for
 * the local one.  Only entries journald itself says came from root count. */
int anchors_journald(const char *dir, const char *journal, struct journal_anchor *last, uint64_t *others,
		     char *err, size_t errlen);
/* Lines holding JOURNAL_ANCHOR_PREFIX at their start or after a space or
 * '=' (journalctl -o cat, short, export; a syslog file), the anchor ending
 * the line; a malformed one is an error naming the line and field. */
int anchors_file(const char *path, const char *journal, struct journal_anchor *last, uint64_t *others, char *err,
		 size_t errlen);

#endif
