#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

struct unit {
	const char *suffix;
	uint64_t mult;
};

/* A decimal number followed by exactly one of the suffixes. */
static int parse(const char *s, const struct unit *u, size_t n, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(end, u[i].suffix))
			continue;
		if (v > UINT64_MAX / u[i].mult)
			return -EINVAL;
		*out = (uint64_t)v * u[i].mult;
		return 0;
	}
	return -EINVAL;
}

int units_size(const char *s, uint64_t *out)
{
	static const struct unit u[] = {
		{ "", 1 }, { "K", 1ull << 10 }, { "k", 1ull << 10 }, { "M", 1ull << 20 },
		{ "m", 1ull << 20 }, { "G", 1ull << 30 }, { "g", 1ull << 30 },
	};

	return parse(s, u, sizeof(u) / sizeof(u[0]), out);
}

int units_ms(const char *s, uint64_t *out)
{
	static const struct unit u[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};

	return parse(s, u, sizeof(u) / sizeof(u[0]), out);
}
