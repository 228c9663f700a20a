/* RFC 5424 and CEF messages of a record.  RFC 5424: the record's scalar
 * fields as SD-PARAMs of one SD-ELEMENT (arrays and maps as compact JSON),
 * the rendered record as MSG.  CEF (ArcSight's Common Event Format, rev 25):
 * the usual keys where one fits, the rendered record in cs3. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecs.h"
#include "siem_format.h"

#define SD_ID "sandtrail@32473" /* 32473: the enterprise number RFC 5612 gives to examples */

void siem_put_sd_value(FILE *m, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\' || s[i] == ']')
			fputc('\\', m);
		fputc(s[i], m);
	}
}

void siem_put_cef_header(FILE *m, const char *s)
{
	for (; *s; s++) {
		if (*s == '|' || *s == '\\')
			fputc('\\', m);
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, m);
	}
}

void siem_put_cef_value(FILE *m, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			fputs("\\n", m);
		else if (s[i] == '\r')
			fputs("\\r", m);
		else if (s[i] == '\\' || s[i] == '=')
			fprintf(m, "\\%c", s[i]);
		else
			fputc(s[i], m);
	}
}

/* RFC 5424's PRINTUSASCII names (HOSTNAME, APP-NAME, MSGID), at most max long. */
static void put_name(FILE *m, const char *s, size_t max)
{
	size_t i;

	if (!s || !*s) {
		fputc('-', m);
		return;
	}
	for (i = 0; s[i] && i < max; i++)
		fputc(s[i] > ' ' && s[i] < 0x7f ? s[i] : '_', m);
}

static bool warning(const json_t *rec)
{
	const char *type = json_string_value(json_object_get(rec, "type")) ?: "";

	return !strcmp(type, "loss") || !strcmp(type, "export_error") || !strcmp(type, "recovery") ||
	       json_is_true(json_object_get(rec, "tampered")) ||
	       !strcmp(json_string_value(json_object_get(rec, "verdict")) ?: "", "deny");
}

static void put_header(FILE *m, const struct siem_header *h, bool warn, const char *msgid)
{
	time_t secs = (time_t)(h->ts_ns / 1000000000u);
	struct tm tm;
	char ts[32];

	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	/* TIME-SECFRAC has at most 6 digits */
	fprintf(m, "<%u>1 %s.%06uZ ", h->facility * 8 + (warn ? 4 : 6), ts,
		(unsigned)(h->ts_ns % 1000000000u / 1000));
	put_name(m, h->hostname, 255);
	fputc(' ', m);
	put_name(m, h->app, 48);
	fputs(" - ", m);
	put_name(m, msgid, 32);
	fputc(' ', m);
}

/* A PARAM-NAME: 1-32 PRINTUSASCII but =, ] and ". */
static bool param_name_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 32)
		return false;
	for (; *k; k++)
		if (*k <= ' ' || *k >= 0x7f || *k == '=' || *k == ']' || *k == '"')
			return false;
	return true;
}

/* A value as text: strings as they are, other scalars as JSON writes them,
 * arrays and maps as compact JSON.  malloc'd, NULL for null. */
static char *value_text(const json_t *v, size_t *len)
{
	char *s;

	if (json_is_null(v))
		return NULL;
	if (json_is_string(v)) {
		*len = json_string_length(v);
		s = malloc(*len + 1);
		if (s)
			memcpy(s, json_string_value(v), *len + 1);
		return s;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	*len = s ? strlen(s) : 0;
	return s;
}

static void put_rfc5424(FILE *m, const json_t *rec, const char *line, size_t len)
{
	const char *k;
	json_t *v;

	fputs("[" SD_ID, m);
	json_object_foreach((json_t *)rec, k, v) {
		size_t n;
		char *t;

		if (!param_name_ok(k) || !(t = value_text(v, &n)))
			continue;
		fprintf(m, " %s=\"", k);
		siem_put_sd_value(m, t, n);
		fputc('"', m);
		free(t);
	}
	fputs("] ", m);
	fwrite(line, 1, len, m);
}

/* key=value when the record has field (its text, escaped). */
static void cef_field(FILE *m, const char *key, const json_t *rec, const char *field)
{
	json_t *v = json_object_get(rec, field);
	size_t n;
	char *t;

	if (!v || !(t = value_text(v, &n)))
		return;
	fprintf(m, " %s=", key);
	siem_put_cef_value(m, t, n);
	free(t);
}

static void put_cef(FILE *m, const struct siem_header *h, const json_t *rec, const char *line, size_t len)
{
	const char *type = json_string_value(json_object_get(rec, "type")) ?: "";
	const char *family = json_string_value(json_object_get(rec, "family")) ?: "";
	const struct ecs_class *c = ecs_class_of(type);
	char name[128], id[ECS_ID_LEN];

	fputs("- CEF:0|sandtrail|sandtrail|1|", m); /* "-": no structured data */
	siem_put_cef_header(m, type);
	snprintf(name, sizeof(name), "%s: %s", c->ocsf_name, type);
	fputc('|', m);
	siem_put_cef_header(m, name);
	fprintf(m, "|%d|rt=%" PRIu64, warning(rec) ? 7 : 3, h->ts_ns / 1000000u);
	ecs_id(id, json_string_value(json_object_get(rec, "journal")) ?: "",
	       (uint64_t)json_integer_value(json_object_get(rec, "seq")));
	fprintf(m, " externalId=%s cat=%s act=", id, c->category);
	siem_put_cef_value(m, type, strlen(type));
	fprintf(m, " outcome=%s", ecs_outcome(rec));
	cef_field(m, "spid", rec, "pid");
	cef_field(m, "sproc", rec, "comm");
	cef_field(m, "suid", rec, "uid");
	if (!strcmp(type, "rename")) {
		cef_field(m, "oldFilePath", rec, "from");
		cef_field(m, "filePath", rec, "to");
	} else if (!strcmp(c->category, "file")) {
		cef_field(m, "filePath", rec, "path");
	} else if (!strcmp(type, "connect")) {
		cef_field(m, !strcmp(family, "AF_INET") ? "dst" : !strcmp(family, "AF_INET6") ? "c6a3" : "dhost", rec,
			  "addr");
		cef_field(m, "dpt", rec, "port");
	}
	fputs(" cs1Label=session", m);
	cef_field(m, "cs1", rec, "session");
	fputs(" cs2Label=journal", m);
	cef_field(m, "cs2", rec, "journal");
	fputs(" cn1Label=seq", m);
	cef_field(m, "cn1", rec, "seq");
	fputs(" cs3Label=record cs3=", m);
	siem_put_cef_value(m, line, len);
}

int siem_format(FILE *m, enum siem_format f, const struct siem_header *h, const json_t *rec, const char *line,
		size_t len)
{
	put_header(m, h, warning(rec), json_string_value(json_object_get(rec, "type")));
	if (f == SIEM_CEF)
		put_cef(m, h, rec, line, len);
	else
		put_rfc5424(m, rec, line, len);
	return ferror(m) ? -ENOMEM : 0;
}

int siem_format_anchor(FILE *m, const struct siem_header *h, const char *line)
{
	put_header(m, h, false, "anchor");
	fprintf(m, "- %s", line);
	return ferror(m) ? -ENOMEM : 0;
}
