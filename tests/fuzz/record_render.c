/* Arbitrary bytes as one msgpack record through every replay renderer: the
 * JSON line, the text timeline with its summary, the session list.  Nothing
 * may crash; the JSON must be exactly one valid object on one line; the text
 * must hold no control byte but newlines and only valid UTF-8. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "journal/journal.h"
#include "replay/replay.h"

static bool valid_utf8_text(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

		if (len == 0 || i + len > n || (c < 0x20 && c != '\n') || c == 0x7f || c == 0xc0 || c == 0xc1)
			return false;
		for (size_t k = 1; k < len; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		/* no C1 controls: the escaping turns them into \u{...} */
		if (c == 0xc2 && p[i + 1] < 0xa0)
			return false;
		i += len;
	}
	return true;
}

static void check_json_lines(const char *buf, size_t len, size_t want_lines)
{
	size_t lines = 0;

	for (const char *p = buf; p < buf + len;) {
		const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		json_error_t err;
		json_t *j;

		if (!nl)
			abort(); /* a line without its newline */
		/* integers beyond int64 are valid JSON but not jansson integers */
		j = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &err);
		if (!j || !json_is_object(j)) {
			fprintf(stderr, "invalid JSON line (%s): %.*s\n", err.text, (int)(nl - p), p);
			abort();
		}
		json_decref(j);
		lines++;
		p = nl + 1;
	}
	if (want_lines != (size_t)-1 && lines != want_lines)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum journal_seal_state states[] = { JOURNAL_SEALED, JOURNAL_UNSEALED, JOURNAL_BAD };
	enum journal_seal_state seal = states[size % 3];
	struct timeline_opts o = { 0 };
	struct timeline *tl;
	struct sesslist *ss;
	msgpack_zone zone;
	msgpack_object rec;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	msgpack_zone_init(&zone, 4096);
	if (rec_unpack(data, size, &zone, &rec) < 0) {
		msgpack_zone_destroy(&zone);
		return 0;
	}

	f = open_memstream(&buf, &len);
	if (render_json_record(f, size, seal, &rec) != 0)
		abort();
	fclose(f);
	check_json_lines(buf, len, 1);
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	if (timeline_new(&tl, f, &o) != 0)
		abort();
	/* twice: the second pass sees the process tree the first one built */
	if (timeline_record(tl, 1, seal, &rec, 0, true) != 0 || timeline_record(tl, 2, seal, &rec, 0, true) != 0 ||
	    timeline_finish(tl) != 0)
		abort();
	timeline_free(tl);
	fclose(f);
	if (!valid_utf8_text((const uint8_t *)buf, len))
		abort();
	free(buf);

	if (sesslist_new(&ss) != 0 || sesslist_add(ss, 1, seal, &rec) != 0)
		abort();
	buf = NULL;
	f = open_memstream(&buf, &len);
	if (sesslist_print_json(ss, f, 0, UINT64_MAX) != 0)
		abort();
	fclose(f);
	check_json_lines(buf, len, (size_t)-1);
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	if (sesslist_print_text(ss, f, 0, UINT64_MAX) != 0)
		abort();
	fclose(f);
	if (!valid_utf8_text((const uint8_t *)buf, len))
		abort();
	free(buf);
	sesslist_free(ss);
	msgpack_zone_destroy(&zone);
	return 0;
}
