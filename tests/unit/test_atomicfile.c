#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include "atomicfile.h"

struct dir {
	char path[64];
	int fd;
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	strcpy(d->path, "/tmp/test_atomicfile.XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*state = d;
	return d->fd < 0 ? -1 : 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	char cmd[128];

	close(d->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	if (system(cmd) != 0)
		return -1;
	free(d);
	return 0;
}

static void assert_content(int dirfd, const char *name, const char *want)
{
	char buf[256];

	assert_int_equal(atomicfile_read(dirfd, name, buf, sizeof(buf)), (ssize_t)strlen(want));
	assert_string_equal(buf, want);
}

static void test_atomicfile_replaces_whole_and_leaves_no_temporary(void **state)
{
	struct dir *d = *state;

	assert_int_equal(atomicfile_write(d->fd, "mark", "first", 5), 0);
	assert_content(d->fd, "mark", "first");
	assert_int_equal(atomicfile_write(d->fd, "mark", "the second", 10), 0);
	assert_content(d->fd, "mark", "the second");
	assert_int_equal(faccessat(d->fd, ".mark.tmp", F_OK, 0), -1);
}

/* A write that fails half-way (here: the file size limit) leaves the
 * earlier content as it was, and no temporary behind. */
static void test_atomicfile_failed_write_keeps_the_earlier_content(void **state)
{
	struct dir *d = *state;
	struct rlimit was, small = { 4, 4 };
	char big[100];
	int rc;

	memset(big, 'x', sizeof(big));
	assert_int_equal(atomicfile_write(d->fd, "mark", "earlier", 7), 0);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	small.rlim_max = was.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = atomicfile_write(d->fd, "mark", big, sizeof(big));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(rc, -EFBIG);
	assert_content(d->fd, "mark", "earlier");
	assert_int_equal(faccessat(d->fd, ".mark.tmp", F_OK, 0), -1);
}

/* A file that does not fit the buffer (with its NUL) is an error, never
 * its first bytes. */
static void test_atomicfile_read_refuses_what_does_not_fit(void **state)
{
	struct dir *d = *state;
	char buf[11];

	assert_int_equal(atomicfile_write(d->fd, "ten", "0123456789", 10), 0);
	assert_int_equal(atomicfile_read(d->fd, "ten", buf, 10), -EFBIG);
	assert_int_equal(atomicfile_read(d->fd, "ten", buf, sizeof(buf)), 10);
	assert_string_equal(buf, "0123456789");
	assert_int_equal(atomicfile_read(d->fd, "missing", buf, sizeof(buf)), -ENOENT);
}

/* A symlink in the state directory is neither followed to be read nor
 * written through: the write replaces the link itself. */
static void test_atomicfile_follows_no_symlink(void **state)
{
	struct dir *d = *state;
	char buf[64];

	assert_int_equal(atomicfile_write(d->fd, "target", "untouched", 9), 0);
	assert_int_equal(symlinkat("target", d->fd, "link"), 0);
	assert_int_equal(atomicfile_read(d->fd, "link", buf, sizeof(buf)), -ELOOP);
	assert_int_equal(symlinkat("target", d->fd, ".link.tmp"), 0);
	assert_int_equal(atomicfile_write(d->fd, "link", "new", 3), -ELOOP);
	assert_content(d->fd, "target", "untouched");
	assert_int_equal(unlinkat(d->fd, ".link.tmp", 0), 0);
	assert_int_equal(atomicfile_write(d->fd, "link", "new", 3), 0);
	assert_content(d->fd, "link", "new");
	assert_content(d->fd, "target", "untouched");
}

static void test_atomicfile_name_too_long(void **state)
{
	struct dir *d = *state;
	char name[600];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	assert_int_equal(atomicfile_write(d->fd, name, "x", 1), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atomicfile_replaces_whole_and_leaves_no_temporary, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_atomicfile_failed_write_keeps_the_earlier_content, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_atomicfile_read_refuses_what_does_not_fit, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_atomicfile_follows_no_symlink, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_atomicfile_name_too_long, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
