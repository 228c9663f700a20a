#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "syncer.h"

struct job {
	int fd, dirfd;
	bool close_fd;
	uint64_t mark;
};

struct syncer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job *q;          /* queued, not yet taken by the thread */
	size_t n, cap;
	uint64_t done;
	int err;
	bool stopping;
	int efd;
};

static void notify(struct syncer *s)
{
	uint64_t one = 1;

	/* a full counter is still readable: nothing to do when this fails */
	if (write(s->efd, &one, sizeof(one)) < 0)
		return;
}

/* Runs one batch: each fd synced once (every job's writes were made before
 * it was queued, so one fdatasync now covers them all), the directory once,
 * then the closes.  Returns 0 or -errno. */
static int run_batch(struct job *b, size_t n)
{
	int rc = 0, dirfd = -1;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen |= b[k].fd == b[i].fd;
		if (b[i].fd >= 0 && !seen && rc == 0 && fdatasync(b[i].fd) < 0)
			rc = -errno;
		if (b[i].dirfd >= 0)
			dirfd = b[i].dirfd;
	}
	if (dirfd >= 0 && rc == 0 && fsync(dirfd) < 0)
		rc = -errno;
	for (size_t i = 0; i < n; i++)
		if (b[i].close_fd)
			close(b[i].fd);
	return rc;
}

static void *worker(void *arg)
{
	struct syncer *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct job *b;
		size_t n;
		int rc;

		while (!s->n && !s->stopping)
			pthread_cond_wait(&s->wake, &s->lock);
		if (!s->n)
			break;
		b = s->q;
		n = s->n;
		s->q = NULL;
		s->n = s->cap = 0;
		pthread_mutex_unlock(&s->lock);
		rc = run_batch(b, n);
		pthread_mutex_lock(&s->lock);
		if (rc < 0 && !s->err)
			s->err = rc;
		if (!s->err)
			s->done = b[n - 1].mark;
		free(b);
		notify(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int syncer_start(struct syncer **out)
{
	struct syncer *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int rc;

	if (!s)
		return -ENOMEM;
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0) {
		rc = -errno;
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	/* signals are the caller's (its signalfd): the thread takes none */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&s->thread, NULL, worker, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		close(s->efd);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int syncer_fd(const struct syncer *s)
{
	return s->efd;
}

int syncer_push(struct syncer *s, int fd, int dirfd, bool close_fd, uint64_t mark)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct job *q = realloc(s->q, cap * sizeof(*q));

		if (!q) {
			rc = -ENOMEM;
			goto out;
		}
		s->q = q;
		s->cap = cap;
	}
	s->q[s->n++] = (struct job){ fd, dirfd, close_fd, mark };
	pthread_cond_signal(&s->wake);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int syncer_done(struct syncer *s, uint64_t *mark)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	*mark = s->done;
	rc = s->err;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int syncer_stop(struct syncer *s)
{
	int rc;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	rc = s->err;
	free(s->q);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	close(s->efd);
	free(s);
	return rc;
}
