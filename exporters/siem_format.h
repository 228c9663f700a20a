/* Records as syslog messages: RFC 5424 with the record in structured data
 * (SD-ID sandtrail@32473), or CEF carried in an RFC 5424 message.  The
 * escaping is each format's own, since record fields (paths, argv, names)
 * are written by hostile sandboxes. */
#ifndef SANDTRAIL_EXP_SIEM_FORMAT_H
#define SANDTRAIL_EXP_SIEM_FORMAT_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

enum siem_format { SIEM_RFC5424, SIEM_CEF };

struct siem_header {
	unsigned facility;      /* 0-23 */
	const char *hostname;   /* HOSTNAME; "" or NULL: "-" */
	const char *app;        /* APP-NAME */
	uint64_t ts_ns;         /* the record's time */
};

/* One message (no framing) for a rendered record (rec, parsed from line):
 * RFC 5424 with structured data and the line as MSG, or CEF.  0 or -ENOMEM. */
int siem_format(FILE *m, enum siem_format f, const struct siem_header *h, const json_t *rec, const char *line,
		size_t len);

/* The anchor of a seal (schemas/journal.md, "Anchors"): MSGID "anchor", no
 * structured data, the anchor line as MSG, for verify --anchor FILE. */
int siem_format_anchor(FILE *m, const struct siem_header *h, const char *line);

/* The value escapings, exposed for the unit test: RFC 5424 PARAM-VALUE
 * (", \ and ]), CEF header fields (| and \), CEF extension values (\, =,
 * CR and LF). */
void siem_put_sd_value(FILE *m, const char *s, size_t len);
void siem_put_cef_header(FILE *m, const char *s);
void siem_put_cef_value(FILE *m, const char *s, size_t len);

#endif
