/* Decoding of one ring-buffer sample (bpf/events.h) into a checked view.
 * The bytes come from the kernel but their content from the sandbox: every
 * length is checked against the sample before anything is read. */
#ifndef SANDTRAIL_EVENT_H
#define SANDTRAIL_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"

#define EVENT_STR_MAX 5
/* Room for any path the functions below build: a walk and a requested
 * path, each of up to ST_PATH_MAX bytes, and a marker. */
#define EVENT_PATH_MAX (2 * ST_PATH_MAX + 8)

struct event_str {
	const uint8_t *p;
	uint32_t len;
	bool truncated;
	bool components; /* kernel path walk, leaf first, NUL after each name */
	bool present;    /* user string: readable; walk: made (else unresolved) */
	bool late;       /* user string unreadable at entry, read at the syscall's exit */
	bool detached;   /* walk ended outside the task's mount namespace (memfd, pipe, ...) */
};

struct event {
	const struct st_hdr *h;
	const void *body;  /* the type's fixed part (struct st_exec, ...) */
	struct event_str str[EVENT_STR_MAX];
	unsigned nstr;
};

/* Fills ev from one sample; -EBADMSG (ev then undefined) when sizes or type
 * do not add up. */
int event_decode(const void *data, size_t len, struct event *ev);
const char *event_type_name(uint32_t type);
const char *event_syscall_name(uint32_t sys);
/* Joins a component walk into "/a/b/c" ("…/b/c" when the walk was cut);
 * returns the length written (at most cap, EVENT_PATH_MAX is always enough;
 * *truncated when cut).  out is not NUL-terminated. */
size_t event_path_join(const struct event_str *s, uint8_t *out, size_t cap, bool *truncated);
/* The absolute path of req (as the program passed it) resolved from the
 * walk base: "." and empty names dropped, ".." taken over the walk's
 * directories but not above the task's root, kept after a name of req
 * (which may be a symlink).  As event_path_join otherwise. */
size_t event_path_resolve(const struct event_str *base, const uint8_t *req, size_t req_len, uint8_t *out,
			  size_t cap, bool *truncated);

#endif
