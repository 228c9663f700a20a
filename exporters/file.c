/* file:///PATH.ndjson: every record as one JSON line (the journal's id and
 * the seq first, as `sandtrail replay --format json` renders it otherwise),
 * appended and fsynced before the loop hears OK; the file is rotated by size
 * (PATH.1, PATH.2, ...).  A line cut by a crash is removed on open: its
 * record is shipped again, since the cursor had not passed it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/replay.h"
#include "sink.h"

struct file_config {
	uint64_t rotate_bytes, keep;
	bool fsync;
};

#define FOFF(f) offsetof(struct file_config, f)

static const struct exp_option file_options[] = {
	{ .key = "rotate_bytes", .type = EXP_OPT_UINT, .off = FOFF(rotate_bytes), .def = "64M", .min = 4096,
	  .max = UINT64_MAX, .help = "start a new file past this size" },
	{ .key = "keep", .type = EXP_OPT_UINT, .off = FOFF(keep), .def = "5", .min = 0, .max = 1000,
	  .help = "rotated files kept (PATH.1 the newest)" },
	{ .key = "fsync", .type = EXP_OPT_BOOL, .off = FOFF(fsync), .def = "true",
	  .help = "fsync every batch before it counts as delivered" },
	{ 0 },
};

struct file_sink {
	struct exp_sink *sink;
	const struct file_config *cfg;
	char path[PATH_MAX];
	int fd;
	uint64_t size;
	msgpack_zone zone;
	char *buf;
	size_t len;
};

static int file_configure(void *config, const struct exp_url *url, char *err, size_t errlen)
{
	if (*url->authority && strcmp(url->authority, "localhost")) {
		snprintf(err, errlen, "a file URL names no host: file:///PATH (three slashes)");
		return -EINVAL;
	}
	if (url->path[0] != '/' || url->path[1] == 0 || url->path[strlen(url->path) - 1] == '/') {
		snprintf(err, errlen, "expected file:///ABSOLUTE/PATH.ndjson");
		return -EINVAL;
	}
	if (strlen(url->path) + 8 >= PATH_MAX) {
		snprintf(err, errlen, "path too long");
		return -EINVAL;
	}
	return 0;
}

/* Cuts a line left unfinished by a crash: what follows the last newline. */
static int cut_torn_line(struct file_sink *f)
{
	char buf[4096];
	uint64_t end = f->size;

	while (end > 0) {
		size_t n = end < sizeof(buf) ? (size_t)end : sizeof(buf);
		ssize_t k = pread(f->fd, buf, n, (off_t)(end - n));

		if (k != (ssize_t)n)
			return k < 0 ? -errno : -EIO;
		for (size_t i = n; i > 0; i--) {
			if (buf[i - 1] != '\n')
				continue;
			end -= n - i;
			goto found;
		}
		end -= n;
	}
found:
	if (end == f->size)
		return 0;
	if (ftruncate(f->fd, (off_t)end) < 0)
		return -errno;
	f->size = end;
	return 0;
}

static int open_file(struct file_sink *f)
{
	struct stat st;
	int rc;

	f->fd = open(f->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f->fd < 0 || fstat(f->fd, &st) < 0) {
		rc = -errno;
		exp_error(f->sink, "open(\"%s\"): %s", f->path, strerror(errno));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		exp_error(f->sink, "%s: not a regular file", f->path);
		return -EINVAL;
	}
	f->size = (uint64_t)st.st_size;
	rc = cut_torn_line(f);
	if (rc < 0) {
		exp_error(f->sink, "%s: cutting an unfinished last line: %s", f->path, strerror(-rc));
		return rc;
	}
	exp_connected(f->sink, true);
	return 0;
}

static void file_close(void *state, int timeout_ms)
{
	struct file_sink *f = state;

	if (f->fd >= 0)
		close(f->fd);
	msgpack_zone_destroy(&f->zone);
	free(f->buf);
	free(f);
}

static int file_init(struct exp_sink *sink, const void *config, const struct exp_url *url, void **state)
{
	struct file_sink *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	f->sink = sink;
	f->cfg = config;
	f->fd = -1;
	snprintf(f->path, sizeof(f->path), "%s", url->path);
	msgpack_zone_init(&f->zone, 4096);
	rc = open_file(f);
	if (rc < 0) {
		file_close(f, 0);
		return rc;
	}
	*state = f;
	return 0;
}

/* PATH -> PATH.1 -> PATH.2 ... -> PATH.keep (dropped beyond), then a new PATH. */
static int rotate(struct file_sink *f)
{
	char from[PATH_MAX + 24], to[PATH_MAX + 24];

	if (f->cfg->fsync && fsync(f->fd) < 0)
		return -errno;
	for (uint64_t k = f->cfg->keep; k > 1; k--) {
		snprintf(from, sizeof(from), "%s.%llu", f->path, (unsigned long long)(k - 1));
		snprintf(to, sizeof(to), "%s.%llu", f->path, (unsigned long long)k);
		if (rename(from, to) < 0 && errno != ENOENT)
			return -errno;
	}
	snprintf(to, sizeof(to), "%s.1", f->path);
	if ((f->cfg->keep ? rename(f->path, to) : unlink(f->path)) < 0)
		return -errno;
	close(f->fd);
	f->fd = -1;
	return open_file(f);
}

static int write_all(struct file_sink *f, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(f->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		f->size += (uint64_t)n;
	}
	return 0;
}

static int file_send(void *state, struct exp_record **recs, size_t n)
{
	struct file_sink *f = state;
	uint64_t before;
	FILE *m;
	int rc = 0;

	if (f->fd < 0 && (rc = open_file(f)) < 0)
		return rc;
	free(f->buf);
	f->buf = NULL;
	m = open_memstream(&f->buf, &f->len);
	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		msgpack_object o;

		msgpack_zone_clear(&f->zone);
		recs[i]->result = EXP_OK;
		if (rec_unpack(recs[i]->rec, recs[i]->len, &f->zone, &o) < 0) {
			recs[i]->result = EXP_FAIL;
			recs[i]->why = "the record does not decode (msgpack)";
			continue;
		}
		if (render_json_shipped(m, exp_journal_id(f->sink), recs[i]->seq, recs[i]->seal, &o) < 0) {
			fclose(m);
			return -ENOMEM;
		}
	}
	if (fclose(m) != 0)
		return -ENOMEM;
	if (f->size > 0 && f->size + f->len > f->cfg->rotate_bytes && (rc = rotate(f)) < 0) {
		exp_error(f->sink, "rotating %s: %s", f->path, strerror(-rc));
		return rc;
	}
	before = f->size;
	rc = write_all(f, f->buf, f->len);
	if (rc == 0 && f->cfg->fsync && fdatasync(f->fd) < 0)
		rc = -errno;
	if (rc < 0) {
		/* no half batch stays behind: it is all written again */
		exp_error(f->sink, "writing %s: %s", f->path, strerror(-rc));
		if (ftruncate(f->fd, (off_t)before) == 0)
			f->size = before;
		return rc;
	}
	return (int)n;
}

const struct exporter_ops exp_file_ops = {
	.scheme = "file",
	.synopsis = "file:///PATH.ndjson[?rotate_bytes=N&keep=N&fsync=BOOL]  one JSON object per line",
	.options = file_options,
	.config_size = sizeof(struct file_config),
	.configure = file_configure,
	.init = file_init,
	.send = file_send,
	.close = file_close,
};
