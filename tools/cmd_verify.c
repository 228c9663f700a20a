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
#include "anchors.h"
#include "kafka_fetch.h"

const char cmd_verify_usage[] =
	"verify [--journal DIR | FILE...] [--pubkey FILE] [--live] [--anchor kafka://BROKERS/TOPIC|journald[:DIR]|FILE]\n"
	"verify --kafka BROKERS --topic T [--pubkey FILE] [--journal DIR] [--journal-id ID] [--live]\n"
	"  Checks a journal: framing, checksums, the hash chain, every seal's signature,\n"
	"  every epoch key's certificate back to the public key given, seq continuity\n"
	"  across segments, and that it ends with the final seal of a clean close.\n"
	"  Exit 0 intact, 1 tampered or incomplete (first fault: segment, offset, seq),\n"
	"  2 usage or I/O error.\n"
	"  --journal DIR   the journal directory (default " JOURNAL_DEFAULT_DIR ")\n"
	"  FILE...         segment files (*.stj) instead of a directory\n"
	"  --pubkey FILE   the journal's public key (signing.pub from sandtrail keygen;\n"
	"                  default " JOURNAL_DEFAULT_PUBKEY ", which sandtraild --create-key writes)\n"
	"  --live          the journal is still being written: an unsealed tail is not a fault\n"
	"  --kafka BROKERS the central copy: checks the records the kafka sink shipped to topic\n"
	"  --topic T       T (chain, seals, keys, missing seqs) as a journal; with --journal,\n"
	"                  also names the records that are in Kafka and missing on the host\n"
	"                  (its tail cut, or an older copy restored) or differ there\n"
	"  --journal-id ID the journal to check when the topic holds several\n"
	"  --anchor kafka://BROKERS/TOPIC  also checks that the journal reaches the last seal\n"
	"                  shipped to TOPIC (valid there): a host rolled back or cut fails\n"
	"  --anchor journald[:DIR]  the same against the last seal the journald sink\n"
	"                  anchored in the systemd journal (its files in DIR: journalctl -D)\n"
	"  --anchor FILE   ... or in FILE: lines \"sandtrail-anchor journal=... seq=... seal=...\"\n"
	"                  (journalctl -o cat SYSLOG_IDENTIFIER=sandtrail _UID=0, a syslog file)\n";

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

static struct kafka_record *find_seq(const struct kafka_copy *c, const char *journal, uint64_t seq)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int k = strcmp(c->v[mid].journal, journal);

		if (k == 0 && c->v[mid].seq == seq)
			return &c->v[mid];
		if (k < 0 || (k == 0 && c->v[mid].seq < seq))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Checks a journal directory or a list of segment files; prints the faults
 * and one summary line.  0 intact, 1 not, 2 cannot read.  copy: the Kafka
 * copy dir was written from, whose records a valid seal covers are marked. */
static int verify(const char *dir, char *const *files, size_t nfiles, const char *pubkey, bool live, const char *what,
		  struct kafka_copy *copy, const char *journal)
{
	const struct journal_fault *faults;
	struct sessions sessions = { 0 };
	struct journal_reader *r;
	struct journal_stats st;
	struct journal_entry e;
	msgpack_zone zone;
	size_t nf;
	int rc;

	rc = dir ? journal_reader_open(&r, dir, pubkey) : journal_reader_open_files(&r, files, nfiles, pubkey);
	if (rc < 0) {
		fprintf(stderr, "sandtrail verify: %s: %s\n", what, strerror(-rc));
		return 2;
	}
	msgpack_zone_init(&zone, 4096);
	while ((rc = journal_reader_next(r, &e)) == 1) {
		struct kafka_record *k = copy && e.seal == JOURNAL_SEALED ? find_seq(copy, journal, e.seq) : NULL;

		if (k)
			k->sealed = true;
		count_session(&sessions, &zone, &e);
	}
	msgpack_zone_destroy(&zone);
	tdestroy(sessions.root, free);
	if (rc < 0) {
		fprintf(stderr, "sandtrail verify: reading %s: %s\n", what, strerror(-rc));
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

/* Seqs [first, last] as "A..B" or "A". */
static void print_range(const char *what, uint64_t first, uint64_t last)
{
	if (first == last)
		printf("%s: seq %llu\n", what, (unsigned long long)first);
	else
		printf("%s: seqs %llu..%llu (%llu records)\n", what, (unsigned long long)first, (unsigned long long)last,
		       (unsigned long long)(last - first + 1));
}

/* The host's journal against the central copy: what Kafka has, under a
 * valid seal, that the host lost (a cut tail, removed segments, an older
 * copy put back), and records that differ.  0 when the host has all of it,
 * 1 otherwise.  A record no seal covers in Kafka proves nothing: skipped. */
static int compare_host(const struct kafka_copy *c, const char *journal, const char *dir)
{
	uint8_t *seen = NULL, id[JOURNAL_ID_LEN];
	uint64_t first = UINT64_MAX, last = 0, missing = 0, differ = 0, n = 0, start = 0;
	char host_id[JOURNAL_ID_STR] = "";
	struct journal_reader *r;
	struct journal_entry e;
	bool in_gap = false;
	int rc;

	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].journal, journal) || !c->v[i].sealed)
			continue;
		first = c->v[i].seq < first ? c->v[i].seq : first;
		last = c->v[i].seq > last ? c->v[i].seq : last;
		n++;
	}
	if (!n || !(seen = calloc(last - first + 1, 1)))
		return 2;
	rc = journal_reader_open(&r, dir, NULL);
	if (rc < 0) {
		fprintf(stderr, "sandtrail verify: --journal %s: %s\n", dir, strerror(-rc));
		free(seen);
		return 2;
	}
	while ((rc = journal_reader_next(r, &e)) == 1) {
		const struct kafka_record *k;

		if (!host_id[0] && journal_reader_id(r, id) == 0)
			journal_id_hex(id, host_id);
		k = find_seq(c, journal, e.seq);
		if (!k || !k->sealed)
			continue;
		seen[k->seq - first] = 1;
		if (k->len != e.len || memcmp(k->rec, e.rec, e.len)) {
			if (!differ)
				printf("differs on the host: seq %llu (first of them)\n", (unsigned long long)e.seq);
			differ++;
		}
	}
	journal_reader_close(r);
	if (rc < 0) {
		fprintf(stderr, "sandtrail verify: reading %s: %s\n", dir, strerror(-rc));
		free(seen);
		return 2;
	}
	if (host_id[0] && strcmp(host_id, journal))
		printf("the host's journal is %s, not %s: it was replaced\n", host_id, journal);
	for (uint64_t s = first; s <= last + 1; s++) {
		const struct kafka_record *k = s <= last ? find_seq(c, journal, s) : NULL;
		bool gap = k && k->sealed && !seen[s - first];

		if (gap && !in_gap)
			start = s;
		if (!gap && in_gap)
			print_range("in Kafka, missing on the host", start, s - 1);
		missing += gap;
		in_gap = gap;
	}
	free(seen);
	printf("sandtrail verify: the host's journal %s against Kafka: ", dir);
	if (!missing && !differ && (!host_id[0] || !strcmp(host_id, journal))) {
		printf("it holds all %llu records\n", (unsigned long long)n);
		return 0;
	}
	printf("FAILED: %llu records in Kafka are missing on the host, %llu differ\n", (unsigned long long)missing,
	       (unsigned long long)differ);
	return 1;
}

/* The host's journal reaches the anchor (the last seal kept off the host),
 * byte for byte: 0, 1 when it does not, 2 when it cannot be read. */
static int anchor_check(const char *dir, uint64_t seq, const void *rec, size_t len)
{
	struct journal_reader *r;
	struct journal_entry e;
	uint64_t end = 0;
	bool reached = false;
	int rc;

	rc = journal_reader_open(&r, dir, NULL);
	if (rc < 0) {
		fprintf(stderr, "sandtrail verify: --journal %s: %s\n", dir, strerror(-rc));
		return 2;
	}
	while ((rc = journal_reader_next(r, &e)) == 1) {
		end = e.seq + 1;
		if (e.seq == seq && e.len == len && !memcmp(e.rec, rec, len))
			reached = true;
	}
	journal_reader_close(r);
	if (rc < 0)
		return 2;
	if (reached) {
		printf("sandtrail verify: anchor: the journal reaches the last anchored seal (seq %llu)\n",
		       (unsigned long long)seq);
		return 0;
	}
	printf("sandtrail verify: anchor: FAILED: the journal %s, before the last anchored seal (seq %llu)\n",
	       end <= seq ? "ends" : "differs", (unsigned long long)seq);
	return 1;
}

/* The last seal of the copy that verifies in Kafka, as the anchor. */
static int anchor_kafka(const struct kafka_copy *c, const char *journal, const char *dir)
{
	const struct kafka_record *anchor = NULL;

	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].journal, journal) && c->v[i].sealed && c->v[i].kind == JOURNAL_KIND_SEAL)
			anchor = &c->v[i];
	if (!anchor) {
		printf("sandtrail verify: anchor: FAILED: no valid seal of journal %s in Kafka\n", journal);
		return 1;
	}
	return anchor_check(dir, anchor->seq, anchor->rec, anchor->len);
}

/* --anchor journald[:DIR] or FILE: the host's journal verified as always,
 * then against the last anchor of its journal id found there. */
static int verify_anchor(const char *dir, const char *source, const char *pubkey, bool live)
{
	char journal[JOURNAL_ID_STR], err[512];
	struct journal_anchor *last;
	struct journal_reader *r;
	struct journal_entry e;
	uint8_t id[JOURNAL_ID_LEN];
	uint64_t others;
	int rc, rc2;

	rc = verify(dir, NULL, 0, pubkey, live, dir, NULL, NULL);
	if (rc == 2)
		return rc;
	if (journal_reader_open(&r, dir, NULL) < 0 || journal_reader_next(r, &e) < 0 || journal_reader_id(r, id) < 0) {
		journal_reader_close(r);
		printf("sandtrail verify: anchor: FAILED: the journal has no segment to name it\n");
		return 1;
	}
	journal_reader_close(r);
	journal_id_hex(id, journal);
	last = malloc(sizeof(*last));
	if (!last)
		return 2;
	if (!strcmp(source, "journald") || !strncmp(source, "journald:", 9))
		rc2 = anchors_journald(source[8] ? source + 9 : NULL, journal, last, &others, err, sizeof(err));
	else
		rc2 = anchors_file(source, journal, last, &others, err, sizeof(err));
	if (rc2 < 0) {
		fprintf(stderr, "sandtrail verify: --anchor %s\n", err);
		rc2 = 2;
	} else if (rc2 == 0) {
		printf("sandtrail verify: anchor: FAILED: no anchored seal of journal %s in %s%s\n", journal, source,
		       others ? " (only of other journals: this one replaced another?)" : "");
		rc2 = 1;
	} else {
		rc2 = anchor_check(dir, last->seq, last->rec, last->len);
	}
	free(last);
	return rc2 > rc ? rc2 : rc;
}

static int verify_kafka(const char *brokers, const char *topic, const char *want, const char *host_dir,
			const char *pubkey, bool live, bool anchor)
{
	char dir[PATH_MAX], journal[JOURNAL_ID_STR], err[512], what[PATH_MAX + 64];
	struct kafka_copy c;
	int rc, rc2;

	rc = kafka_journal_dir(brokers, topic, want, &c, journal, dir, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "sandtrail verify: --kafka %s --topic %s: %s\n", brokers, topic, err);
		return 2;
	}
	printf("sandtrail verify: Kafka %s topic %s: journal %s (%llu messages shipped twice, %llu not records)\n",
	       brokers, topic, journal, (unsigned long long)c.duplicates, (unsigned long long)c.foreign);
	snprintf(what, sizeof(what), "the copy from Kafka (%s)", dir);
	rc = verify(dir, NULL, 0, pubkey, live, what, &c, journal);
	kafka_journal_dir_remove(dir);
	if (anchor) {
		/* the host's journal checked as always, then against the anchor */
		rc = verify(host_dir, NULL, 0, pubkey, live, host_dir, NULL, NULL);
		rc2 = rc == 2 ? 2 : anchor_kafka(&c, journal, host_dir);
		rc = rc2 > rc ? rc2 : rc;
	} else if (rc != 2 && host_dir) {
		rc2 = compare_host(&c, journal, host_dir);
		rc = rc2 > rc ? rc2 : rc;
	}
	kafka_copy_free(&c);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' }, { "pubkey", required_argument, NULL, 'p' },
		{ "live", no_argument, NULL, 'l' },          { "help", no_argument, NULL, 'h' },
		{ "kafka", required_argument, NULL, 'K' },   { "topic", required_argument, NULL, 'T' },
		{ "journal-id", required_argument, NULL, 'J' }, { "anchor", required_argument, NULL, 'A' },
		{ 0 },
	};
	char anchor_brokers[1024];
	const char *dir = NULL, *pubkey = NULL, *kafka = NULL, *topic = NULL, *journal_id = NULL, *anchor_src = NULL;
	uint8_t pub[JOURNAL_PUB_LEN];
	bool live = false, anchor = false, given_dir;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': dir = optarg; break;
		case 'p': pubkey = optarg; break;
		case 'l': live = true; break;
		case 'K': kafka = optarg; break;
		case 'T': topic = optarg; break;
		case 'J': journal_id = optarg; break;
		case 'A': {
			const char *slash = strncmp(optarg, "kafka://", 8) ? NULL : strchr(optarg + 8, '/');

			if (strncmp(optarg, "kafka://", 8)) {
				anchor_src = optarg; /* journald[:DIR] or FILE */
				break;
			}
			if (!slash || !slash[1] || (size_t)(slash - optarg - 8) >= sizeof(anchor_brokers)) {
				fprintf(stderr, "sandtrail verify: --anchor %s: expected kafka://HOST:PORT[,...]/TOPIC\n", optarg);
				return 2;
			}
			memcpy(anchor_brokers, optarg + 8, (size_t)(slash - optarg - 8));
			anchor_brokers[slash - optarg - 8] = 0;
			anchor = true;
			kafka = anchor_brokers;
			topic = slash + 1;
			break;
		}
		case 'h': return command_usage(cmd_verify_usage, 0);
		default: return command_usage(cmd_verify_usage, 1);
		}
	}
	if ((dir && optind < argc) || !kafka != !topic || (kafka && optind < argc) ||
	    (anchor_src && (kafka || optind < argc)))
		return command_usage(cmd_verify_usage, 1);
	given_dir = dir != NULL;
	if (!pubkey)
		pubkey = JOURNAL_DEFAULT_PUBKEY;
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
	if (optind == argc && !dir && (!kafka || anchor))
		dir = JOURNAL_DEFAULT_DIR;
	if (dir && check_readable("--journal ", dir, true) < 0)
		return 2;
	for (int i = optind; i < argc; i++)
		if (check_readable("", argv[i], false) < 0)
			return 2;
	if (anchor_src)
		return verify_anchor(dir, anchor_src, pubkey, live);
	if (kafka)
		return verify_kafka(kafka, topic, journal_id, given_dir || anchor ? dir : NULL, pubkey, live, anchor);
	return verify(dir, argv + optind, (size_t)(argc - optind), pubkey, live, dir ? dir : argv[optind], NULL, NULL);
}

