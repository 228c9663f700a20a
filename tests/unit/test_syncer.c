#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "journal/syncer.h"

/* Until syncer_done reports mark or an error (poll on its fd, 5 s at most). */
static int wait_mark(struct syncer *s, uint64_t want, uint64_t *got)
{
	int rc = 0;

	for (int i = 0; i < 500; i++) {
		struct pollfd pfd = { .fd = syncer_fd(s), .events = POLLIN };
		uint64_t n;

		rc = syncer_done(s, got);
		if (rc < 0 || *got >= want)
			return rc;
		if (poll(&pfd, 1, 10) > 0)
			assert_int_equal(read(pfd.fd, &n, sizeof(n)), (ssize_t)sizeof(n));
	}
	return rc;
}

static int temp_file(void)
{
	char path[] = "/tmp/test_syncer.XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "x", 1), 1);
	return fd;
}

static void test_syncer_reports_marks_in_order_and_closes_what_it_owns(void **state)
{
	struct syncer *s;
	uint64_t got = 0;
	int a = temp_file(), b = temp_file(), dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	(void)state;
	assert_int_equal(syncer_start(&s), 0);
	assert_int_equal(syncer_push(s, a, -1, false, 10), 0);
	assert_int_equal(syncer_push(s, a, dir, true, 20), 0);
	assert_int_equal(syncer_push(s, b, -1, false, 30), 0);
	assert_int_equal(wait_mark(s, 30, &got), 0);
	assert_int_equal(got, 30);
	assert_int_equal(syncer_stop(s), 0);
	assert_int_equal(fcntl(a, F_GETFD), -1); /* the syncer closed it */
	assert_int_equal(errno, EBADF);
	assert_true(fcntl(b, F_GETFD) >= 0);
	close(b);
	close(dir);
}

/* A sync that fails (fdatasync of a pipe: EINVAL) is reported, and no later
 * mark passes for done. */
static void test_syncer_failed_sync_is_reported_and_stops_the_marks(void **state)
{
	struct syncer *s;
	uint64_t got = 0;
	int p[2], f = temp_file();

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(syncer_start(&s), 0);
	assert_int_equal(syncer_push(s, f, -1, false, 1), 0);
	assert_int_equal(wait_mark(s, 1, &got), 0);
	assert_int_equal(syncer_push(s, p[1], -1, false, 2), 0);
	assert_int_equal(wait_mark(s, 2, &got), -EINVAL);
	assert_int_equal(got, 1); /* the failed job is not done */
	assert_int_equal(syncer_push(s, f, -1, false, 3), 0);
	assert_int_equal(syncer_stop(s), -EINVAL);
	close(p[0]);
	close(p[1]);
	close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syncer_reports_marks_in_order_and_closes_what_it_owns),
		cmocka_unit_test(test_syncer_failed_sync_is_reported_and_stops_the_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
