#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "flagnames.h"

/* glibc defines O_LARGEFILE as 0 on 64-bit; the kernel's bit is what we see */
#define KERNEL_O_LARGEFILE 00100000

struct flagname {
	uint64_t bits;
	const char *name;
};

/* Multi-bit flags come before the single bits they contain. */
static const struct flagname open_flags[] = {
	{ O_TMPFILE, "O_TMPFILE" }, { O_SYNC, "O_SYNC" },         { O_CREAT, "O_CREAT" },
	{ O_EXCL, "O_EXCL" },       { O_NOCTTY, "O_NOCTTY" },     { O_TRUNC, "O_TRUNC" },
	{ O_APPEND, "O_APPEND" },   { O_NONBLOCK, "O_NONBLOCK" }, { O_DSYNC, "O_DSYNC" },
	{ O_DIRECT, "O_DIRECT" },   { KERNEL_O_LARGEFILE, "O_LARGEFILE" }, { O_DIRECTORY, "O_DIRECTORY" },
	{ O_NOFOLLOW, "O_NOFOLLOW" }, { O_NOATIME, "O_NOATIME" }, { O_CLOEXEC, "O_CLOEXEC" },
	{ O_PATH, "O_PATH" },       { FASYNC, "O_ASYNC" },
};

static const struct flagname rename_flags[] = {
	{ RENAME_NOREPLACE, "RENAME_NOREPLACE" },
	{ RENAME_EXCHANGE, "RENAME_EXCHANGE" },
	{ RENAME_WHITEOUT, "RENAME_WHITEOUT" },
};

/* Packs the names of the bits of flags (after `first`, if any) as an array. */
static void pack_names(struct rec *r, const char *key, const char *first, uint64_t flags,
		       const struct flagname *tab, size_t n)
{
	const char *names[40];
	size_t k = 0;
	char rest[24];

	if (first)
		names[k++] = first;
	for (size_t i = 0; i < n; i++) {
		if ((flags & tab[i].bits) == tab[i].bits) {
			names[k++] = tab[i].name;
			flags &= ~tab[i].bits;
		}
	}
	if (flags) {
		snprintf(rest, sizeof(rest), "0x%llx", (unsigned long long)flags);
		names[k++] = rest;
	}
	rec_key(r, key);
	msgpack_pack_array(&r->pk, k);
	for (size_t i = 0; i < k; i++)
		msgpack_pack_str_with_body(&r->pk, names[i], strlen(names[i]));
}

void flagnames_open(struct rec *r, const char *key, uint64_t flags)
{
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };

	/* O_PATH ignores the access mode; O_TMPFILE contains O_DIRECTORY */
	pack_names(r, key, (flags & O_PATH) ? NULL : acc[flags & O_ACCMODE], flags & ~(uint64_t)O_ACCMODE,
		   open_flags, sizeof(open_flags) / sizeof(open_flags[0]));
}

void flagnames_rename(struct rec *r, const char *key, uint32_t flags)
{
	pack_names(r, key, NULL, flags, rename_flags, sizeof(rename_flags) / sizeof(rename_flags[0]));
}

const char *flagnames_family(int family)
{
	switch (family) {
	case AF_INET: return "AF_INET";
	case AF_INET6: return "AF_INET6";
	case AF_UNIX: return "AF_UNIX";
	default: return NULL;
	}
}
