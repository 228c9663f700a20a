#include <errno.h>
#include <string.h>

#include "event.h"

static const char *const type_names[ST_EV_MAX] = {
	[ST_EV_EXEC] = "exec",     [ST_EV_FORK] = "fork",     [ST_EV_EXIT] = "exit",
	[ST_EV_OPEN] = "open",     [ST_EV_UNLINK] = "unlink", [ST_EV_RENAME] = "rename",
	[ST_EV_CONNECT] = "connect",
};

static const char *const syscall_names[ST_SYS_MAX] = {
	[ST_SYS_EXECVE] = "execve",     [ST_SYS_EXECVEAT] = "execveat", [ST_SYS_OPEN] = "open",
	[ST_SYS_OPENAT] = "openat",     [ST_SYS_OPENAT2] = "openat2",   [ST_SYS_CREAT] = "creat",
	[ST_SYS_UNLINK] = "unlink",     [ST_SYS_UNLINKAT] = "unlinkat", [ST_SYS_RMDIR] = "rmdir",
	[ST_SYS_RENAME] = "rename",     [ST_SYS_RENAMEAT] = "renameat", [ST_SYS_RENAMEAT2] = "renameat2",
	[ST_SYS_CONNECT] = "connect",   [ST_SYS_SENDMSG] = "sendmsg",
};

const char *event_type_name(uint32_t type)
{
	return type < ST_EV_MAX && type_names[type] ? type_names[type] : NULL;
}

const char *event_syscall_name(uint32_t sys)
{
	return sys < ST_SYS_MAX && syscall_names[sys] ? syscall_names[sys] : NULL;
}

/* Fixed size of each type and where its string lengths sit in it. */
struct layout {
	size_t size;
	size_t len_off[EVENT_STR_MAX];
	unsigned nstr;
};

#define LEN_AT(type, field) offsetof(struct type, field)

static const struct layout layouts[ST_EV_MAX] = {
	[ST_EV_EXEC] = { sizeof(struct st_exec),
			 { LEN_AT(st_exec, filename_len), LEN_AT(st_exec, argv_len), LEN_AT(st_exec, exe_len) }, 3 },
	[ST_EV_FORK] = { sizeof(struct st_fork), { 0 }, 0 },
	[ST_EV_EXIT] = { sizeof(struct st_exit), { 0 }, 0 },
	[ST_EV_OPEN] = { sizeof(struct st_open), { LEN_AT(st_open, path_len), LEN_AT(st_open, resolved_len) }, 2 },
	[ST_EV_UNLINK] = { sizeof(struct st_unlink), { LEN_AT(st_unlink, path_len) }, 1 },
	[ST_EV_RENAME] = { sizeof(struct st_rename), { LEN_AT(st_rename, from_len), LEN_AT(st_rename, to_len) }, 2 },
	[ST_EV_CONNECT] = { sizeof(struct st_connect), { LEN_AT(st_connect, path_len) }, 1 },
};

int event_decode(const void *data, size_t len, struct event *ev)
{
	static const uint32_t trunc[EVENT_STR_MAX] = { ST_F_TRUNC_1, ST_F_TRUNC_2, ST_F_TRUNC_3 };
	static const uint32_t comps[EVENT_STR_MAX] = { 0, ST_F_2_COMPONENTS, ST_F_3_COMPONENTS };
	static const uint32_t fault[EVENT_STR_MAX] = { ST_F_FAULT_1, ST_F_FAULT_2, 0 };
	static const uint32_t late[EVENT_STR_MAX] = { ST_F_LATE_1, ST_F_LATE_2, 0 };
	const uint8_t *base = data;
	const struct st_hdr *h = data;
	const struct layout *l;
	size_t off;

	memset(ev, 0, sizeof(*ev));
	if (len < sizeof(*h) || h->size != len || h->type == 0 || h->type >= ST_EV_MAX)
		return -EBADMSG;
	l = &layouts[h->type];
	if (len < l->size)
		return -EBADMSG;
	ev->h = h;
	ev->body = data;
	ev->nstr = l->nstr;
	off = l->size;
	for (unsigned i = 0; i < l->nstr; i++) {
		uint16_t slen;

		memcpy(&slen, base + l->len_off[i], sizeof(slen));
		if (slen > len - off)
			return -EBADMSG;
		bool walk = (h->flags & comps[i]) != 0;

		ev->str[i] = (struct event_str){
			.p = base + off,
			.len = slen,
			/* a walk that stopped early lacks the root side */
			.truncated = (h->flags & trunc[i]) || (walk && (h->flags & ST_F_WALK_INCOMPLETE)),
			.components = walk,
			.present = !(h->flags & fault[i]),
			.late = (h->flags & late[i]) != 0,
		};
		off += slen;
	}
	return off == len ? 0 : -EBADMSG;
}

size_t event_path_join(const struct event_str *s, uint8_t *out, size_t cap, bool *truncated)
{
	static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026: the walk did not reach the root */
	size_t n = 0, end = s->len, total = 0, skip;

	*truncated = s->truncated;
	for (size_t i = 0; i < s->len; i++)
		total += s->p[i] == 0; /* one '/' per name, in place of its NUL */
	total += s->len - total;
	if (total + 1 > cap)
		*truncated = true;
	if (*truncated) {
		if (cap < sizeof(ellipsis) - 1)
			return 0;
		memcpy(out, ellipsis, sizeof(ellipsis) - 1);
		n = sizeof(ellipsis) - 1;
	}
	/* names are NUL-terminated leaf first; the leaf side is kept, so drop
	 * names on the root side until the rest fits */
	skip = total > cap - n ? total - (cap - n) : 0;
	while (end > 0) {
		size_t start = end - 1; /* index of this name's NUL */
		size_t nlen;

		while (start > 0 && s->p[start - 1] != 0)
			start--;
		nlen = end - 1 - start;
		if (skip > 0) {
			skip = skip > nlen + 1 ? skip - (nlen + 1) : 0;
			end = start;
			continue;
		}
		out[n++] = '/';
		memcpy(out + n, s->p + start, nlen);
		n += nlen;
		end = start;
	}
	if (n == 0 && cap > 0)
		out[n++] = '/';
	return n;
}
