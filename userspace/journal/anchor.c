/* Anchors: a seal published off the host as one line of text, so that any
 * log that keeps lines (the systemd journal, syslog, a file exported from
 * either) can hold it, and verify can read it back (schemas/journal.md,
 * "Anchors").  The line is read from logs others write to: parsing takes
 * nothing on trust, and a seal it yields is only ever compared byte for byte
 * with the host's journal, which is verified on its own. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"

static const char hex[] = "0123456789abcdef";

_Static_assert(JOURNAL_ANCHOR_SEAL_MAX == 1024, "the parser's message says 2048 hex digits");

int journal_anchor_format(char *out, size_t size, const char *journal, uint64_t seq, const void *rec, size_t len)
{
	const uint8_t *p = rec;
	int n;

	if (len == 0 || len > JOURNAL_ANCHOR_SEAL_MAX)
		return -EINVAL;
	n = snprintf(out, size, JOURNAL_ANCHOR_PREFIX "journal=%s seq=%llu seal=", journal, (unsigned long long)seq);
	if (n < 0 || (size_t)n + 2 * len + 1 > size)
		return -ENOSPC;
	for (size_t i = 0; i < len; i++) {
		out[n++] = hex[p[i] >> 4];
		out[n++] = hex[p[i] & 15];
	}
	out[n] = 0;
	return n;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* s[*i..] starts with "key=": steps over it. */
static bool field(const char *s, size_t len, size_t *i, const char *key)
{
	size_t k = strlen(key);

	if (len - *i < k + 1 || memcmp(s + *i, key, k) || s[*i + k] != '=')
		return false;
	*i += k + 1;
	return true;
}

int journal_anchor_parse(const char *s, size_t len, struct journal_anchor *a, const char **why)
{
	size_t i = sizeof(JOURNAL_ANCHOR_PREFIX) - 1, start;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	if (len < i || memcmp(s, JOURNAL_ANCHOR_PREFIX, i)) {
		*why = "not an anchor (it begins with \"" JOURNAL_ANCHOR_PREFIX "\")";
		return -EBADMSG;
	}
	if (!field(s, len, &i, "journal") || len - i < JOURNAL_ID_STR || s[i + JOURNAL_ID_STR - 1] != ' ') {
		*why = "journal: expected 32 hex digits, then a space";
		return -EBADMSG;
	}
	for (size_t k = 0; k < JOURNAL_ID_STR - 1; k++)
		if (unhex(s[i + k]) < 0) {
			*why = "journal: expected 32 lowercase hex digits";
			return -EBADMSG;
		}
	memcpy(a->journal, s + i, JOURNAL_ID_STR - 1);
	a->journal[JOURNAL_ID_STR - 1] = 0;
	i += JOURNAL_ID_STR;
	if (!field(s, len, &i, "seq") || i == len || s[i] < '0' || s[i] > '9') {
		*why = "seq: expected a decimal number";
		return -EBADMSG;
	}
	a->seq = 0;
	for (start = i; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (i - start >= 20 || a->seq > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10) {
			*why = "seq: out of range";
			return -EBADMSG;
		}
		a->seq = a->seq * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == len || s[i] != ' ') {
		*why = "seq: expected a decimal number, then a space";
		return -EBADMSG;
	}
	i++;
	if (!field(s, len, &i, "seal") || i == len || (len - i) % 2 || (len - i) / 2 > JOURNAL_ANCHOR_SEAL_MAX) {
		*why = "seal: expected an even number of hex digits (at most 2048), ending the line";
		return -EBADMSG;
	}
	for (a->len = 0; i < len; i += 2) {
		int hi = unhex(s[i]), lo = unhex(s[i + 1]);

		if (hi < 0 || lo < 0) {
			*why = "seal: expected lowercase hex digits, ending the line";
			return -EBADMSG;
		}
		a->rec[a->len++] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
