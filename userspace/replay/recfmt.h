/* Formatting shared by the replay renderers: times, errno names, what an
 * open was for.  Untrusted bytes never pass through here (escape.h does). */
#ifndef SANDTRAIL_RECFMT_H
#define SANDTRAIL_RECFMT_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define RECFMT_TS_LEN 32 /* "2026-11-27T17:08:54.123456789Z" + NUL */

/* RFC 3339 UTC with nanoseconds. */
void recfmt_ts(uint64_t ns, char buf[RECFMT_TS_LEN]);
/* Seconds with milliseconds: "12.345s". */
void recfmt_duration(uint64_t ns, char *buf, size_t len);
/* The errno name of a negative syscall return ("ENOENT"), "E<n>" when unknown. */
const char *recfmt_errno(int64_t ret, char *buf, size_t len);

enum recfmt_access {
	RECFMT_READ = 0,
	RECFMT_WRITE,  /* O_WRONLY, O_RDWR or O_TRUNC */
	RECFMT_CREATE, /* O_CREAT */
	RECFMT_PATH,   /* O_PATH: a reference, no access to the content */
};

/* Whether a `flags` array of names (NULL: none) holds name. */
int recfmt_has_flag(const msgpack_object *flags, const char *name);

/* What an open was for, from its `flags` array of names (NULL: read). */
enum recfmt_access recfmt_open_access(const msgpack_object *flags);

#endif
