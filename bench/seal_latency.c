/* seal_latency: follows a live journal and measures, for every `open` record
 * whose requested path is PREFIX/<ns> (written by `loadgen stamped`: the
 * CLOCK_REALTIME of the call), the time until a seal covering it is on disk.
 * A seal is on disk once this reader has seen it in the segment and its own
 * fdatasync of that segment returned.  Until SIGTERM/SIGINT, then prints
 * {"records":N,"p50_ms":..,"p99_ms":..,"max_ms":..,"unsealed":U,"seals":S,
 *  "to_seal_p50_ms":..,"to_disk_p50_ms":..}: the two parts of the latency,
 * from the call to the seal's own timestamp and from there to disk.
 *
 *   seal_latency --journal DIR [--pubkey FILE] --prefix PREFIX
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "journal/journal.h"

struct stamp {
	uint64_t seq, ns;
};

struct vec {
	void *v;
	size_t n, cap, size;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void *push(struct vec *a)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 4096;
		void *v = realloc(a->v, cap * a->size);

		if (!v) {
			fprintf(stderr, "seal_latency: out of memory\n");
			exit(1);
		}
		a->v = v;
		a->cap = cap;
	}
	return (char *)a->v + a->n++ * a->size;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The stamp in an open record's requested path PREFIX/<ns>, 0 if none. */
static uint64_t stamp_of(const msgpack_object *o, const char *prefix, size_t plen)
{
	const char *p;
	size_t len;
	uint64_t ns = 0;

	if (!rec_is(o, "type", "open") || !rec_get_bytes(o, "requested", &p, &len) || len <= plen + 1 ||
	    memcmp(p, prefix, plen) || p[plen] != '/')
		return 0;
	for (size_t i = plen + 1; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		ns = ns * 10 + (uint64_t)(p[i] - '0');
	}
	return ns;
}

static void sync_segment(const char *dir, const char *segment)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, segment);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fdatasync(fd);
		close(fd);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *v, size_t n, unsigned pct)
{
	return n ? (double)v[(n - 1) * pct / 100] / 1e6 : 0;
}

int main(int argc, char **argv)
{
	struct vec pending = { .size = sizeof(struct stamp) }, lat = { .size = sizeof(uint64_t) };
	struct vec to_seal = { .size = sizeof(uint64_t) }, to_disk = { .size = sizeof(uint64_t) };
	const char *dir = NULL, *pubkey = NULL, *prefix = NULL;
	struct journal_reader *r;
	struct journal_entry e;
	struct sigaction sa = { .sa_handler = on_signal };
	msgpack_zone zone;
	uint64_t seals = 0;
	size_t plen;
	int ino, rc;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--journal"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--pubkey"))
			pubkey = argv[i + 1];
		else if (!strcmp(argv[i], "--prefix"))
			prefix = argv[i + 1];
	}
	if (!dir || !prefix || argc % 2 == 0) {
		fprintf(stderr, "usage: seal_latency --journal DIR [--pubkey FILE] --prefix PREFIX\n");
		return 2;
	}
	plen = strlen(prefix);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino < 0 || inotify_add_watch(ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
		fprintf(stderr, "seal_latency: inotify on %s: %s\n", dir, strerror(errno));
		return 1;
	}
	rc = journal_reader_open(&r, dir, pubkey);
	if (rc < 0) {
		fprintf(stderr, "seal_latency: open journal %s: %s\n", dir, strerror(-rc));
		return 1;
	}
	msgpack_zone_init(&zone, 4096);
	fprintf(stderr, "seal_latency: ready\n");
	while (!stop) {
		struct pollfd pfd = { .fd = ino, .events = POLLIN };
		char buf[4096];

		while ((rc = journal_reader_next(r, &e)) == 1) {
			msgpack_object o;
			uint64_t ns, last, ts;

			msgpack_zone_clear(&zone);
			if (rec_unpack(e.rec, e.len, &zone, &o) < 0)
				continue;
			ns = stamp_of(&o, prefix, plen);
			if (ns) {
				*(struct stamp *)push(&pending) = (struct stamp){ e.seq, ns };
			} else if (rec_is(&o, "type", "seal") && rec_get_uint(&o, "last", &last) &&
				   rec_get_uint(&o, "ts", &ts)) {
				struct stamp *p = pending.v;
				size_t keep = 0;
				uint64_t now;

				sync_segment(dir, e.segment);
				now = realtime_ns();
				seals++;
				for (size_t i = 0; i < pending.n; i++) {
					if (p[i].seq > last) {
						p[keep++] = p[i];
						continue;
					}
					*(uint64_t *)push(&lat) = now > p[i].ns ? now - p[i].ns : 0;
					*(uint64_t *)push(&to_seal) = ts > p[i].ns ? ts - p[i].ns : 0;
					*(uint64_t *)push(&to_disk) = now > ts ? now - ts : 0;
				}
				pending.n = keep;
			}
		}
		if (rc < 0) {
			fprintf(stderr, "seal_latency: read journal %s: %s\n", dir, strerror(-rc));
			return 1;
		}
		if (poll(&pfd, 1, 20) > 0)
			while (read(ino, buf, sizeof(buf)) > 0)
				;
	}
	qsort(lat.v, lat.n, sizeof(uint64_t), cmp_u64);
	qsort(to_seal.v, to_seal.n, sizeof(uint64_t), cmp_u64);
	qsort(to_disk.v, to_disk.n, sizeof(uint64_t), cmp_u64);
	printf("{\"records\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"unsealed\":%zu,\"seals\":%" PRIu64
	       ",\"to_seal_p50_ms\":%.3f,\"to_disk_p50_ms\":%.3f}\n",
	       lat.n, pct_ms(lat.v, lat.n, 50), pct_ms(lat.v, lat.n, 99), pct_ms(lat.v, lat.n, 100), pending.n, seals,
	       pct_ms(to_seal.v, to_seal.n, 50), pct_ms(to_disk.v, to_disk.n, 50));
	msgpack_zone_destroy(&zone);
	journal_reader_close(r);
	free(pending.v);
	free(lat.v);
	free(to_seal.v);
	free(to_disk.v);
	return 0;
}
