#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

const char *control_socket_path(const char *flag)
{
	const char *env = getenv("SANDTRAIL_SOCKET");

	if (flag && *flag)
		return flag;
	if (env && *env)
		return env;
	return CONTROL_DEFAULT_SOCKET;
}

static int fill_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

int control_listen(const char *path, gid_t group)
{
	return control_listen_as(path, group, SOCK_SEQPACKET);
}

int control_listen_as(const char *path, gid_t group, int type)
{
	bool shared = group != (gid_t)-1;
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)];
	int fd, rc;

	rc = fill_addr(&sun, path);
	if (rc)
		return rc;
	strcpy(dir, path);
	if (mkdir(dirname(dir), shared ? 0755 : 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a stale socket of a dead daemon; a live one would answer connect */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || (shared && chown(path, 0, group) < 0) ||
	    chmod(path, shared ? 0660 : 0600) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int control_deadline_ms(void)
{
	const char *env = getenv("SANDTRAIL_CONTROL_TIMEOUT");
	char *end;
	unsigned long v;

	if (!env || !*env)
		return CONTROL_DEADLINE_MS;
	v = strtoul(env, &end, 10);
	if (!strcmp(end, "s") || !*end)
		v *= 1000;
	else if (strcmp(end, "ms"))
		return CONTROL_DEADLINE_MS;
	return v > 0 && v < 3600000 ? (int)v : CONTROL_DEADLINE_MS;
}

int control_connect(const char *path)
{
	int ms = control_deadline_ms();
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct sockaddr_un sun;
	int fd, rc;

	rc = fill_addr(&sun, path);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a daemon that stopped answering (SIGSTOP, a full backlog) never holds
	 * a caller longer: unix connect waits on the send timeout too */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int control_send(int fd, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	ssize_t n;
	size_t len;

	if (!s)
		return -ENOMEM;
	len = strlen(s);
	if (len > CONTROL_MSG_MAX) {
		free(s);
		return -EMSGSIZE;
	}
	n = send(fd, s, len, MSG_NOSIGNAL);
	free(s);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

int control_recv(int fd, json_t **msg)
{
	char *buf = malloc(CONTROL_MSG_MAX + 1);
	json_error_t jerr;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = recv(fd, buf, CONTROL_MSG_MAX + 1, 0);
	if (n <= 0) {
		int err = n == 0 ? -ECONNRESET : -errno;
		free(buf);
		return err;
	}
	if (n > CONTROL_MSG_MAX) {
		free(buf);
		return -EMSGSIZE;
	}
	*msg = json_loadb(buf, (size_t)n, 0, &jerr);
	free(buf);
	if (!*msg || !json_is_object(*msg)) {
		json_decref(*msg);
		*msg = NULL;
		return -EBADMSG;
	}
	return 0;
}

json_t *control_call_fd(int fd, json_t *req, char *err, size_t errlen)
{
	json_t *rep = NULL;
	int rc;

	rc = control_send(fd, req);
	if (rc == 0)
		rc = control_recv(fd, &rep);
	if (rc == -EAGAIN) {
		snprintf(err, errlen, "sandtraild did not answer within %d ms", control_deadline_ms());
		return NULL;
	}
	if (rc) {
		snprintf(err, errlen, "control socket: %s", strerror(-rc));
		return NULL;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		const char *e = json_string_value(json_object_get(rep, "error"));

		snprintf(err, errlen, "%s", e ? e : "request failed");
		json_decref(rep);
		return NULL;
	}
	return rep;
}

json_t *control_call(const char *path, json_t *req, char *err, size_t errlen)
{
	json_t *rep;
	int fd = control_connect(path);

	if (fd < 0) {
		snprintf(err, errlen, "cannot reach sandtraild at %s: %s", path,
			 fd == -EAGAIN ? "it did not accept the connection in time" : strerror(-fd));
		return NULL;
	}
	rep = control_call_fd(fd, req, err, errlen);
	close(fd);
	return rep;
}
