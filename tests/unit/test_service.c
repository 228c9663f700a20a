#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "collector/service.h"

/* A notify socket of the test's own, as systemd's would be. */
struct listener {
	char path[64];
	int fd;
};

static int setup(void **state)
{
	struct listener *l = calloc(1, sizeof(*l));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(l->path, sizeof(l->path), "/tmp/test_service.%d.sock", getpid());
	strcpy(sun.sun_path, l->path);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setenv("NOTIFY_SOCKET", l->path, 1);
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	struct listener *l = *state;

	unsetenv("NOTIFY_SOCKET");
	close(l->fd);
	unlink(l->path);
	free(l);
	return 0;
}

static void expect_message(struct listener *l, const char *want)
{
	char buf[512];
	ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n > 0);
	buf[n] = 0;
	assert_string_equal(buf, want);
}

static void test_service_status_names_sessions_and_export_lag(void **state)
{
	struct listener *l = *state;

	service_status(2, 42);
	expect_message(l, "STATUS=recording: 2 sessions, export lag 42 records");
	service_status(1, 1);
	expect_message(l, "STATUS=recording: 1 session, export lag 1 record");
	service_status(0, -1); /* no exporters: no lag to speak of */
	expect_message(l, "STATUS=recording: 0 sessions");
}

static void test_service_status_is_due_once_a_second_under_a_manager(void **state)
{
	struct service s;

	(void)state;
	service_init(&s);
	assert_true(service_tick(&s, 5000));
	assert_false(service_tick(&s, 5500));
	assert_true(service_tick(&s, 6000));
	unsetenv("NOTIFY_SOCKET");
	service_init(&s);
	assert_false(service_tick(&s, 9000)); /* nobody listens: nothing to compute */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_service_status_names_sessions_and_export_lag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_status_is_due_once_a_second_under_a_manager, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
