#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "escape.h"
#include "journal/journal.h"
#include "kafka_fetch.h"
#include "replay/replay.h"

#define REPLAY_POLL_NS 200000000L

const char cmd_replay_usage[] =
	"replay [--journal DIR | --kafka BROKERS --topic T] [--session ID | --all] [--format text|json|html] [--type T[,T]]\n"
	"              [--pid PID] [--since TIME] [--until TIME] [--path GLOB] [--follow] [--pubkey FILE]\n"
	"  Rebuilds what sessions did from the journal.  Without --session or --all:\n"
	"  the list of sessions (with --format json, one object per session).\n"
	"  --journal DIR    the journal (default " JOURNAL_DEFAULT_DIR ")\n"
	"  --kafka BROKERS  the central copy instead: every record the kafka sink shipped to\n"
	"  --topic T        topic T of HOST:PORT[,HOST:PORT...] (format=msgpack), checked\n"
	"                   against the seals shipped with them; works when the host is gone\n"
	"  --journal-id ID  the journal to read when the topic holds several\n"
	"  --session ID     one session: a process-tree timeline with a closing summary\n"
	"                   (text) or its records (json)\n"
	"  --all            every record of the journal, all sessions and the journal's own\n"
	"  --format F       text (default; colour on a terminal unless NO_COLOR is set)\n"
	"                   or json (one object per record per line, schemas/record.md)\n"
	"                   or html (one session: a self-contained page with the process\n"
	"                   tree, a filterable timeline, the summary and the seal status)\n"
	"  --type T[,T]     only these record types (exec, fork, exit, open, unlink, rename,\n"
	"                   connect, loss, session_start, session_end, seal, recovery, epoch)\n"
	"  --pid PID        only records of this process\n"
	"  --since TIME     only records at or after TIME; --until: at or before.  TIME is\n"
	"  --until TIME     RFC 3339 (2026-11-27T17:08:54Z, 2026-11-27T18:08:54.5+01:00) or\n"
	"                   a duration from the session start (90s, 1m30s, 500ms; needs\n"
	"                   --session).  Without --session or --all they pick the sessions\n"
	"                   active in that window.\n"
	"  --path GLOB      only records whose path, from, to, filename or unix address\n"
	"                   matches GLOB (fnmatch; * also matches /)\n"
	"  --follow         keep reading records as they are appended (Ctrl-C ends; with\n"
	"                   --session, the session's end does); implies --all without --session\n"
	"  --pubkey FILE    the public key that checks the seals (default " JOURNAL_DEFAULT_PUBKEY ";\n"
	"                   when the default is absent, every record is shown unverified)\n"
	"  --socket PATH    accepted like every command; replay reads only the journal\n"
	"  Seal state: text lines start with \"! \" when not covered by a valid seal and\n"
	"  \"!!\" when failing verification (tampered or damaged), with a banner naming the\n"
	"  seqs; JSON has \"sealed\": true|false and \"tampered\": true.\n"
	"  Exit status: 0 done; 1 records failing verification or not decoding, or no record\n"
	"  of the session; 2 usage or I/O error.\n";

struct replay {
	const char *journal, *session, *pubkey;
	const char *kafka, *topic, *journal_id;
	bool json, html, all, follow, colour, help;
	struct rfilter filter;
	struct sealmark seals;         /* records in scope */
	uint64_t bad_elsewhere;        /* failing records outside the session */
	uint64_t undecodable, in_scope;
};

static volatile sig_atomic_t stop_follow;

static void on_signal(int sig)
{
	(void)sig;
	stop_follow = 1;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sandtrail replay: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

static bool hex_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 16;
}

static int parse_args(struct replay *r, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' }, { "session", required_argument, NULL, 'S' },
		{ "all", no_argument, NULL, 'a' },           { "format", required_argument, NULL, 'F' },
		{ "type", required_argument, NULL, 't' },    { "pid", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 'b' },   { "until", required_argument, NULL, 'e' },
		{ "path", required_argument, NULL, 'P' },    { "follow", no_argument, NULL, 'f' },
		{ "pubkey", required_argument, NULL, 'k' },  { "socket", required_argument, NULL, 's' },
		{ "kafka", required_argument, NULL, 'K' },   { "topic", required_argument, NULL, 'T' },
		{ "journal-id", required_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },          { 0 },
	};
	bool journal_given = false;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': r->journal = optarg; journal_given = true; break;
		case 'K': r->kafka = optarg; break;
		case 'T': r->topic = optarg; break;
		case 'J': r->journal_id = optarg; break;
		case 'S': r->session = optarg; break;
		case 'a': r->all = true; break;
		case 'f': r->follow = true; break;
		case 'k': r->pubkey = optarg; break;
		case 's': break;
		case 'P': r->filter.glob = optarg; break;
		case 'F':
			if (strcmp(optarg, "text") && strcmp(optarg, "json") && strcmp(optarg, "html"))
				return usage_error("--format %s: expected text, json or html", optarg);
			r->json = !strcmp(optarg, "json");
			r->html = !strcmp(optarg, "html");
			break;
		case 't':
			if (rfilter_types(&r->filter, optarg, err, sizeof(err)) < 0)
				return usage_error("%s", err);
			break;
		case 'p':
			if (rfilter_pid(&r->filter, optarg, err, sizeof(err)) < 0)
				return usage_error("%s", err);
			break;
		case 'b':
		case 'e':
			if (rfilter_time(c == 'b' ? &r->filter.since : &r->filter.until, optarg, err, sizeof(err)) < 0)
				return usage_error("%s %s", c == 'b' ? "--since" : "--until", err);
			break;
		case 'h': r->help = true; return command_usage(cmd_replay_usage, 0);
		default: return command_usage(cmd_replay_usage, 1);
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument '%s' (see --help)", argv[optind]);
	if (!r->kafka != !r->topic)
		return usage_error("--kafka and --topic go together");
	if (r->kafka && (journal_given || r->follow))
		return usage_error("--kafka reads the central copy: no --journal, no --follow");
	if (r->session && !hex_id(r->session))
		return usage_error("--session %s: expected a session id (16 lowercase hex digits)", r->session);
	if (r->session && r->all)
		return usage_error("--session and --all exclude each other");
	if (r->html && (!r->session || r->follow))
		return usage_error("--format html: needs --session ID (one session) and no --follow");
	if (r->follow && !r->session)
		r->all = true;
	if (!r->session && (r->filter.since.kind == RFILTER_REL || r->filter.until.kind == RFILTER_REL))
		return usage_error("--since/--until: a duration counts from a session's start and needs --session");
	if (!r->session && !r->all && (r->filter.ntypes || r->filter.has_pid || r->filter.glob))
		return usage_error("%s: record filters need --session or --all (the session list counts every record)",
				   r->filter.ntypes ? "--type" : r->filter.has_pid ? "--pid" : "--path");
	return 0;
}

/* The public key: an explicit one must be readable; the default may be
 * absent, and then nothing is verified (and every record says so). */
static int check_pubkey(struct replay *r)
{
	const char *path = r->pubkey ? r->pubkey : JOURNAL_DEFAULT_PUBKEY;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		struct stat st;
		int err = fstat(fd, &st) < 0 ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;

		close(fd);
		if (err) {
			fprintf(stderr, "sandtrail replay: --pubkey %s: %s\n", path,
				err == EINVAL ? "not a regular file" : strerror(err));
			return 2;
		}
		r->pubkey = path;
		return 0;
	}
	if (!r->pubkey && errno == ENOENT)
		return 0;
	fprintf(stderr, "sandtrail replay: --pubkey %s: %s\n", path, strerror(errno));
	return 2;
}

static void undecodable(struct replay *r, const struct journal_entry *e)
{
	r->undecodable++;
	fprintf(stderr, "sandtrail replay: seq %" PRIu64 " (segment ", e->seq);
	escape_fput(stderr, e->segment ? e->segment : "?", e->segment ? strlen(e->segment) : 1);
	fprintf(stderr, ", offset %" PRIu64 "): record does not decode\n", e->offset);
}

static int pause_follow(void)
{
	struct timespec ts = { 0, REPLAY_POLL_NS };

	if (fflush(stdout) != 0)
		return -errno;
	nanosleep(&ts, NULL); /* a signal cuts it short: stop_follow is checked next */
	return 0;
}

/* Reads the journal to its end (and on, with --follow), handing each decoded
 * record to fn.  fn returns 0, 1 to stop (the followed session ended), or -errno. */
static int each_record(struct replay *r, struct journal_reader *jr,
		       int (*fn)(struct replay *, const struct journal_entry *, const msgpack_object *, void *),
		       void *arg)
{
	msgpack_zone zone;
	int rc;

	if (!msgpack_zone_init(&zone, 16384))
		return -ENOMEM;
	for (;;) {
		struct journal_entry e;
		msgpack_object rec;

		rc = journal_reader_next(jr, &e);
		if (rc == 0 && r->follow && !stop_follow) {
			rc = pause_follow();
			if (rc < 0)
				break;
			continue;
		}
		if (rc <= 0)
			break;
		if (rec_unpack(e.rec, e.len, &zone, &rec) < 0)
			undecodable(r, &e);
		else
			rc = fn(r, &e, &rec, arg);
		msgpack_zone_clear(&zone);
		if (rc)
			break;
	}
	msgpack_zone_destroy(&zone);
	return rc < 0 ? rc : 0;
}

static int list_record(struct replay *r, const struct journal_entry *e, const msgpack_object *rec, void *arg)
{
	int rc = sealmark_add(&r->seals, e->seq, e->seal);

	return rc ? rc : sesslist_add(arg, e->seq, e->seal, rec);
}

struct scope {
	struct timeline *tl; /* text only */
	struct render_html *html;
	uint64_t start;      /* ts of the first record in scope */
};

static int scope_record(struct replay *r, const struct journal_entry *e, const msgpack_object *rec, void *arg)
{
	struct scope *sc = arg;
	bool show;
	uint64_t ts;
	int rc;

	if (r->session && !rec_is(rec, "session", r->session)) {
		r->bad_elsewhere += e->seal == JOURNAL_BAD;
		return 0;
	}
	rc = sealmark_add(&r->seals, e->seq, e->seal);
	if (rc < 0)
		return rc;
	if (r->in_scope++ == 0 && rec_get_uint(rec, "ts", &ts))
		sc->start = ts;
	if (rec_is(rec, "type", "session_start") && rec_get_uint(rec, "ts", &ts))
		sc->start = ts;
	show = rfilter_match(&r->filter, rec, sc->start);
	if (sc->tl)
		rc = timeline_record(sc->tl, e->seq, e->seal, rec, sc->start, show);
	else if (sc->html)
		rc = render_html_record(sc->html, e->seq, e->seal, rec, sc->start, show);
	else
		rc = show ? render_json_record(stdout, e->seq, e->seal, rec) : 0;
	if (rc == 0 && r->follow && r->session && rec_is(rec, "type", "session_end"))
		return 1;
	return rc;
}

static int replay_list(struct replay *r, struct journal_reader *jr)
{
	struct sesslist *s;
	uint64_t since = rfilter_time_ns(&r->filter.since, 0);
	uint64_t until = r->filter.until.kind ? rfilter_time_ns(&r->filter.until, 0) : UINT64_MAX;
	int rc = sesslist_new(&s);

	if (rc == 0)
		rc = each_record(r, jr, list_record, s);
	if (rc == 0 && r->json)
		rc = sesslist_print_json(s, stdout, since, until);
	else if (rc == 0)
		rc = sesslist_print_text(s, stdout, since, until);
	sesslist_free(s);
	return rc;
}

static int replay_scope(struct replay *r, struct journal_reader *jr)
{
	struct timeline_opts o = { .colour = r->colour, .all = r->all };
	struct scope sc = { 0 };
	int rc = 0;

	if (r->html)
		rc = render_html_new(&sc.html);
	else if (!r->json)
		rc = timeline_new(&sc.tl, stdout, &o);
	if (rc == 0)
		rc = each_record(r, jr, scope_record, &sc);
	if (rc == 0 && sc.tl && r->session && r->in_scope)
		rc = timeline_finish(sc.tl);
	if (rc == 0 && sc.html && r->in_scope)
		rc = render_html_finish(sc.html, stdout, &r->seals, r->pubkey != NULL);
	timeline_free(sc.tl);
	render_html_free(sc.html);
	return rc;
}

/* After the records: which of them no valid seal covers, and why. */
static void seal_banner(struct replay *r)
{
	FILE *f = r->json || r->html ? stderr : stdout;

	if (r->session && !r->in_scope)
		return;
	sealmark_print(&r->seals, f, r->colour);
	if (!r->pubkey && r->seals.total)
		fprintf(f, "! seals not checked: no public key at %s (--pubkey FILE)\n", JOURNAL_DEFAULT_PUBKEY);
	if (r->bad_elsewhere)
		fprintf(stderr, "sandtrail replay: %" PRIu64 " records of other sessions FAIL seal verification: run sandtrail verify\n",
			r->bad_elsewhere);
}

static bool want_colour(void)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(nc && *nc);
}

static int replay_journal(struct replay *rp);

int cmd_replay(int argc, char **argv)
{
	struct replay r = { .journal = JOURNAL_DEFAULT_DIR };
	char dir[PATH_MAX], journal[JOURNAL_ID_STR], err[512];
	struct kafka_copy copy;
	int rc;

	rc = parse_args(&r, argc, argv);
	if (rc || r.help)
		return rc;
	if (!r.kafka)
		return replay_journal(&r);
	rc = kafka_journal_dir(r.kafka, r.topic, r.journal_id, &copy, journal, dir, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "sandtrail replay: --kafka %s --topic %s: %s\n", r.kafka, r.topic, err);
		return 2;
	}
	kafka_copy_free(&copy);
	r.journal = dir;
	rc = replay_journal(&r);
	kafka_journal_dir_remove(dir);
	return rc;
}

static int replay_journal(struct replay *rp)
{
	struct replay r = *rp;
	struct journal_reader *jr;
	struct sigaction sa = { .sa_handler = on_signal };
	struct stat st;
	int rc;

	rc = stat(r.journal, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	if (rc) {
		fprintf(stderr, "sandtrail replay: --journal %s: %s\n", r.journal, strerror(rc));
		return 2;
	}
	rc = check_pubkey(&r);
	if (rc)
		return rc;
	rc = journal_reader_open(&jr, r.journal, r.pubkey);
	if (rc < 0) {
		fprintf(stderr, "sandtrail replay: journal %s: %s\n", r.journal, strerror(-rc));
		return 2;
	}
	r.colour = !r.json && want_colour();
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (r.follow) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	sealmark_init(&r.seals);
	rc = r.session || r.all ? replay_scope(&r, jr) : replay_list(&r, jr);
	journal_reader_close(jr);
	if (rc == 0)
		seal_banner(&r);
	sealmark_free(&r.seals);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "sandtrail replay: writing the output: %s\n", strerror(errno));
		return 2;
	}
	if (rc < 0) {
		fprintf(stderr, "sandtrail replay: journal %s: %s\n", r.journal, strerror(-rc));
		return 2;
	}
	if (r.session && !r.in_scope) {
		fprintf(stderr, "sandtrail replay: session %s: no records in journal %s\n", r.session, r.journal);
		return 1;
	}
	return r.seals.bad || r.undecodable ? 1 : 0;
}
