/* One session's replay as a single self-contained HTML page: header,
 * verification status, summary, process tree and a timeline that can be
 * filtered by type and process.  No network: inline style and script only,
 * and a Content-Security-Policy that forbids every fetch.  Every string from
 * a record is rendered as the text replay renders it (escaped bytes) and then
 * escaped for HTML. */
#ifndef SANDTRAIL_RENDER_HTML_H
#define SANDTRAIL_RENDER_HTML_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <msgpack.h>

#include "journal/journal.h"
#include "sealmark.h"

struct render_html;

int render_html_new(struct render_html **out);
void render_html_free(struct render_html *h);
/* Every record of the session in journal order; start: the session's start;
 * show: it passed the filters (hidden records still shape the tree). */
int render_html_record(struct render_html *h, uint64_t seq, enum journal_seal_state seal,
		       const msgpack_object *rec, uint64_t start, bool show);
/* Writes the page to f.  seals: the records' seal states; checked: a public
 * key verified them.  0 or -ENOMEM. */
int render_html_finish(struct render_html *h, FILE *f, const struct sealmark *seals, bool checked);
/* bytes with & < > " ' as entities. */
void render_html_escape(FILE *f, const char *p, size_t len);

#endif
