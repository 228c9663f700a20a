/* libFuzzer: what verify reads of a journal cut by retention, both of which
 * an attacker on the host can write: a `retention` record (msgpack) and the
 * epochs file.  First byte even: the rest is a record for retention_parse.
 * Odd: the rest is an epochs file, checked against a record that asks for
 * all of its entries; neither may crash, and a refusal is one line. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal/retention.h"

static char dir[] = "/tmp/fuzz-retention-XXXXXX";
static int dirfd = -1;

/* the scratch directory goes with the process */
static void cleanup(void)
{
	unlinkat(dirfd, JF_EPOCHS_FILE, 0);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t root[JOURNAL_PUB_LEN] = { 1 };
	struct retention_info ri = { 0 };
	char why[256];

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		retention_parse(data + 1, size - 1, &ri);
		return 0;
	}
	if (dirfd < 0) {
		if (!mkdtemp(dir) || (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			abort();
		atexit(cleanup);
	}
	int fd = openat(dirfd, JF_EPOCHS_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	close(fd);
	ri.epochs = (size - 1) / sizeof(struct jf_epoch_entry);
	ri.epoch = (uint32_t)ri.epochs;
	if (retention_check_epochs(dirfd, root, &ri, why, sizeof(why)) < 0 && strchr(why, '\n'))
		__builtin_trap();
	return 0;
}
