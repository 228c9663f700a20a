/* libFuzzer: an anchor line, as verify --anchor reads it from the systemd
 * journal or from a file that others write to as well.  The parser may
 * refuse, never crash, and what it accepts formats back to the same line. */
#include <stdint.h>
#include <string.h>

#include "journal/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct journal_anchor a;
	static char line[JOURNAL_ANCHOR_LINE_MAX];
	const char *why = NULL;
	size_t len = size;
	int n;

	if (journal_anchor_parse((const char *)data, size, &a, &why) < 0) {
		if (!why || strchr(why, '\n'))
			__builtin_trap();
		return 0;
	}
	n = journal_anchor_format(line, sizeof(line), a.journal, a.seq, a.rec, a.len);
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
		len--;
	/* a seq with leading zeros is the one difference the format allows */
	if (n < 0 || ((size_t)n != len && !memmem(data, size, "seq=0", 5)) ||
	    ((size_t)n == len && memcmp(line, data, len)))
		__builtin_trap();
	return 0;
}
