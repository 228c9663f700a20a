/* Interim journal: one append-only file of length-prefixed records.  The
 * sealed, segmented journal replaces this file behind the same interface. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

#define JOURNAL_FILE "journal.log"

struct journal {
	int fd;
	uint64_t next_seq;
};

struct frame {
	uint32_t len;
	uint32_t pad;
	uint64_t seq;
};

int journal_open(struct journal **out, const struct journal_config *cfg)
{
	struct journal *j;
	char path[4096];
	struct frame f;
	off_t off = 0;

	if (mkdir(cfg->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", cfg->dir, JOURNAL_FILE);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		int err = -errno;
		free(j);
		return err;
	}
	while (pread(j->fd, &f, sizeof(f), off) == sizeof(f)) {
		j->next_seq = f.seq + 1;
		off += sizeof(f) + f.len;
	}
	*out = j;
	return 0;
}

int journal_append(struct journal *j, const void *rec, size_t len, uint64_t *seq)
{
	struct frame f = { .len = len, .seq = j->next_seq };
	char buf[sizeof(f) + 65536];

	if (len > 65536)
		return -E2BIG;
	memcpy(buf, &f, sizeof(f));
	memcpy(buf + sizeof(f), rec, len);
	if (write(j->fd, buf, sizeof(f) + len) != (ssize_t)(sizeof(f) + len))
		return -EIO;
	if (seq)
		*seq = j->next_seq;
	j->next_seq++;
	return 0;
}

int journal_tick(struct journal *j)
{
	(void)j;
	return 0;
}

int journal_close(struct journal *j)
{
	int rc = fsync(j->fd) < 0 ? -errno : 0;

	close(j->fd);
	free(j);
	return rc;
}

struct journal_reader {
	FILE *f;
	uint64_t off;
	char *buf;
};

int journal_reader_open(struct journal_reader **out, const char *dir, const char *pubkey_path)
{
	struct journal_reader *r;
	char path[4096];

	(void)pubkey_path;
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_FILE);
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->f = fopen(path, "rbe");
	if (!r->f) {
		int err = -errno;
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

/* End of the journal for now: a frame still being written is read again
 * whole by a later call (replay --follow). */
static int reader_at_end(struct journal_reader *r)
{
	clearerr(r->f);
	return fseeko(r->f, (off_t)r->off, SEEK_SET) < 0 ? -errno : 0;
}

int journal_reader_next(struct journal_reader *r, struct journal_entry *e)
{
	struct frame f;

	if (fread(&f, sizeof(f), 1, r->f) != 1)
		return reader_at_end(r);
	free(r->buf);
	r->buf = malloc(f.len ? f.len : 1);
	if (!r->buf)
		return -ENOMEM;
	if (fread(r->buf, 1, f.len, r->f) != f.len)
		return reader_at_end(r);
	*e = (struct journal_entry){ .seq = f.seq, .rec = r->buf, .len = f.len, .segment = JOURNAL_FILE,
				     .offset = r->off, .seal = JOURNAL_UNSEALED };
	r->off += sizeof(f) + f.len;
	return 1;
}

void journal_reader_close(struct journal_reader *r)
{
	if (!r)
		return;
	fclose(r->f);
	free(r->buf);
	free(r);
}
