#include <stdio.h>
#include <string.h>
#include <time.h>

#include "recfmt.h"

/* 64-bit nanoseconds end in 2554: always a four-digit year. */
void recfmt_ts(uint64_t ns, char buf[RECFMT_TS_LEN])
{
	time_t s = (time_t)(ns / 1000000000u);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, RECFMT_TS_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + 19, RECFMT_TS_LEN - 19, ".%09uZ", (unsigned)(ns % 1000000000u));
}

void recfmt_duration(uint64_t ns, char *buf, size_t len)
{
	snprintf(buf, len, "%llu.%03llus", (unsigned long long)(ns / 1000000000u),
		 (unsigned long long)(ns % 1000000000u / 1000000u));
}

const char *recfmt_errno(int64_t ret, char *buf, size_t len)
{
	const char *name = NULL;

	if (ret < 0 && ret > -4096)
		name = strerrorname_np((int)-ret);
	if (name)
		return name;
	snprintf(buf, len, "E%llu", 0ull - (unsigned long long)ret);
	return buf;
}

int recfmt_has_flag(const msgpack_object *flags, const char *name)
{
	size_t n = strlen(name);

	if (!flags || flags->type != MSGPACK_OBJECT_ARRAY)
		return 0;
	for (uint32_t i = 0; i < flags->via.array.size; i++) {
		const msgpack_object *o = &flags->via.array.ptr[i];

		if (o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
		    memcmp(o->via.str.ptr, name, n) == 0)
			return 1;
	}
	return 0;
}

enum recfmt_access recfmt_open_access(const msgpack_object *flags)
{
	if (!flags || flags->type != MSGPACK_OBJECT_ARRAY)
		return RECFMT_READ;
	/* the kernel ignores every other flag of an O_PATH open */
	if (recfmt_has_flag(flags, "O_PATH"))
		return RECFMT_PATH;
	if (recfmt_has_flag(flags, "O_CREAT"))
		return RECFMT_CREATE;
	if (recfmt_has_flag(flags, "O_WRONLY") || recfmt_has_flag(flags, "O_RDWR") || recfmt_has_flag(flags, "O_TRUNC"))
		return RECFMT_WRITE;
	return RECFMT_READ;
}
