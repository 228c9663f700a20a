#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "journal/journal.h"

const char cmd_verify_usage[] =
	"verify [--journal DIR | FILE...] --pubkey FILE [--live]\n"
	"  Checks a journal: framing, checksums, the hash chain, every seal's signature,\n"
	"  every epoch key's certificate back to the public key given, seq continuity\n"
	"  across segments, and that it ends with the final seal of a clean close.\n"
	"  Exit 0 intact, 1 tampered or incomplete (first fault: segment, offset, seq),\n"
	"  2 usage or I/O error.\n"
	"  --journal DIR   the journal directory (default " JOURNAL_DEFAULT_DIR ")\n"
	"  FILE...         segment files (*.stj) instead of a directory\n"
	"  --pubkey FILE   the journal's public key (signing.pub from sandtrail keygen)\n"
	"  --live          the journal is still being written: an unsealed tail is not a fault\n";

/* Distinct session ids, for the summary. */
struct sessions {
	void *root;
	uint64_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void count_session(struct sessions *s, msgpack_zone *zone, const struct journal_entry *e)
{
	char id[128], **slot;
	msgpack_object o;
	const char *p;
	size_t len;

	msgpack_zone_clear(zone);
	if (rec_unpack(e->rec, e->len, zone, &o) < 0 || !rec_get_bytes(&o, "session", &p, &len))
		return;
	if (len >= sizeof(id))
		len = sizeof(id) - 1;
	memcpy(id, p, len);
	id[len] = 0;
	if (tfind(id, &s->root, cmp_str))
		return;
	p = strdup(id);
	slot = p ? tsearch(p, &s->root, cmp_str) : NULL;
	if (slot && *slot == p)
		s->n++;
}

/* One line for the user when a path cannot be read at all. */
static int check_readable(const char *flag, const char *path, bool dir)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));

	if (fd < 0) {
		fprintf(stderr, "sandtrail verify: %s%s: %s\n", flag, path, strerror(errno));
		return -1;
	}
	if (!dir && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		fprintf(stderr, "sandtrail verify: %s: not a regular file\n", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' }, { "pubkey", required_argument, NULL, 'p' },
		{ "live", no_argument, NULL, 'l' },          { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = NULL, *pubkey = NULL;
	const struct journal_fault *faults;
	struct sessions sessions = { 0 };
	struct journal_reader *r;
	struct journal_stats st;
	struct journal_entry e;
	uint8_t pub[JOURNAL_PUB_LEN];
	msgpack_zone zone;
	bool live = false;
	size_t nf;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': dir = optarg; break;
		case 'p': pubkey = optarg; break;
		case 'l': live = true; break;
		case 'h': return command_usage(cmd_verify_usage, 0);
		default: return command_usage(cmd_verify_usage, 1);
		}
	}
	if (!pubkey || (dir && optind < argc))
		return command_usage(cmd_verify_usage, 1);
	rc = keys_read_pub(pubkey, pub);
	if (rc == -EBADMSG) {
		fprintf(stderr, "sandtrail verify: --pubkey %s: not a sandtrail public key (one line '%s<64 hex digits>')\n",
			pubkey, JOURNAL_PUB_PREFIX);
		return 2;
	}
	if (rc < 0) {
		fprintf(stderr, "sandtrail verify: --pubkey %s: %s\n", pubkey, strerror(-rc));
		return 2;
	}
	if (optind == argc && !dir)
		dir = JOURNAL_DEFAULT_DIR;
	if (dir && check_readable("--journal ", dir, true) < 0)
		return 2;
	for (int i = optind; i < argc; i++)
		if (check_readable("", argv[i], false) < 0)
			return 2;
	rc = dir ? journal_reader_open(&r, dir, pubkey)
		 : journal_reader_open_files(&r, argv + optind, (size_t)(argc - optind), pubkey);
	if (rc < 0) {
		fprintf(stderr, "sandtrail verify: %s: %s\n", dir ? dir : argv[optind], strerror(-rc));
		return 2;
	}
	msgpack_zone_init(&zone, 4096);
	while ((rc = journal_reader_next(r, &e)) == 1)
		count_session(&sessions, &zone, &e);
	msgpack_zone_destroy(&zone);
	tdestroy(sessions.root, free);
	if (rc < 0) {
		fprintf(stderr, "sandtrail verify: reading %s: %s\n", dir ? dir : "segments", strerror(-rc));
		journal_reader_close(r);
		return 2;
	}
	journal_reader_check_end(r, live);
	journal_reader_stats(r, &st);
	nf = journal_reader_faults(r, &faults);
	for (size_t i = 0; i < nf; i++)
		printf("fault: segment %s, offset %llu, seq %llu: %s\n", faults[i].segment,
		       (unsigned long long)faults[i].offset, (unsigned long long)faults[i].seq, faults[i].what);
	if (st.faults > nf)
		printf("fault: ... and %llu more\n", (unsigned long long)(st.faults - nf));
	printf("sandtrail verify: %llu records, %llu seals, %llu epochs, %llu sessions in %llu segments: ",
	       (unsigned long long)st.records, (unsigned long long)st.seals, (unsigned long long)st.epochs,
	       (unsigned long long)sessions.n, (unsigned long long)st.segments);
	rc = 0;
	if (st.segments == 0) {
		printf("FAILED: no journal segment found\n");
		rc = 1;
	} else if (st.faults) {
		printf("FAILED: %llu faults, the first at segment %s, offset %llu, seq %llu\n",
		       (unsigned long long)st.faults, faults[0].segment, (unsigned long long)faults[0].offset,
		       (unsigned long long)faults[0].seq);
		rc = 1;
	} else {
		printf("intact\n");
	}
	journal_reader_close(r);
	return rc;
}
