/* Record -> ECS document, and the class of every record type (schemas/ecs.md,
 * schemas/ocsf.md).  The document keeps the whole rendered record in
 * event.original, so nothing the mapping leaves out is lost. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecs.h"
#include "replay/replay.h"

/* OCSF classes: File System Activity, Process Activity, Network Activity, Base Event. */
#define FILE_ACT 1001, "File System Activity"
#define PROC_ACT 1007, "Process Activity"
#define NET_ACT 4001, "Network Activity"
#define BASE 0, "Base Event"

static const struct ecs_class classes[] = {
	{ "session_start", "session", "start", PROC_ACT, 1 },
	{ "session_end", "session", "end", PROC_ACT, 2 },
	{ "exec", "process", "start", PROC_ACT, 1 },
	{ "fork", "process", "start", PROC_ACT, 1 },
	{ "exit", "process", "end", PROC_ACT, 2 },
	{ "open", "file", "access", FILE_ACT, 14 },
	{ "unlink", "file", "deletion", FILE_ACT, 4 },
	{ "rename", "file", "change", FILE_ACT, 5 },
	{ "truncate", "file", "change", FILE_ACT, 3 },
	{ "mkdir", "file", "creation", FILE_ACT, 1 },
	{ "mknod", "file", "creation", FILE_ACT, 1 },
	{ "symlink", "file", "creation", FILE_ACT, 1 },
	{ "link", "file", "creation", FILE_ACT, 1 },
	{ "chmod", "file", "change", FILE_ACT, 7 },
	{ "chown", "file", "change", FILE_ACT, 7 },
	{ "utimes", "file", "change", FILE_ACT, 6 },
	{ "setxattr", "file", "change", FILE_ACT, 6 },
	{ "removexattr", "file", "change", FILE_ACT, 6 },
	{ "mount", "file", "change", FILE_ACT, 12 },
	{ "umount", "file", "change", FILE_ACT, 13 },
	{ "pivot_root", "file", "change", FILE_ACT, 99 },
	{ "connect", "network", "connection", NET_ACT, 1 },
	{ NULL, "host", "info", BASE, 99 },
};

const struct ecs_class *ecs_class_of(const char *type)
{
	size_t i;

	for (i = 0; classes[i].type; i++)
		if (!strcmp(classes[i].type, type))
			break;
	return &classes[i];
}

void ecs_id(char out[ECS_ID_LEN], const char *journal, uint64_t seq)
{
	snprintf(out, ECS_ID_LEN, "%.32s-%" PRIu64, journal, seq);
}

json_t *ecs_record_json(const char *journal, const struct exp_record *r, msgpack_zone *zone, char **line,
			size_t *len)
{
	msgpack_object o;
	FILE *m;
	int rc;

	msgpack_zone_clear(zone);
	if (rec_unpack(r->rec, r->len, zone, &o) < 0)
		return NULL;
	free(*line);
	*line = NULL;
	m = open_memstream(line, len);
	if (!m)
		return NULL;
	rc = render_json_shipped(m, journal, r->seq, r->seal, &o);
	if (fclose(m) != 0 || rc < 0)
		return NULL;
	if (*len > 0 && (*line)[*len - 1] == '\n')
		(*line)[--*len] = 0;
	return json_loadb(*line, *len, 0, NULL);
}

/* dst.key = rec[name], when the record has it (a new reference). */
static void copy(json_t *dst, const char *key, const json_t *rec, const char *name)
{
	json_t *v = json_object_get(rec, name);

	if (v)
		json_object_set(dst, key, v);
}

/* A number or a string as a string (ECS keeps ids as keywords). */
static void copy_str(json_t *dst, const char *key, const json_t *rec, const char *name)
{
	json_t *v = json_object_get(rec, name);
	char buf[24];

	if (json_is_string(v)) {
		json_object_set(dst, key, v);
	} else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		json_object_set_new(dst, key, json_string(buf));
	}
}

/* ECS writes file modes in octal: "0644". */
static void copy_mode(json_t *dst, const json_t *rec)
{
	json_t *v = json_object_get(rec, "mode");
	char buf[24];

	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "0%" PRIo64, (uint64_t)json_integer_value(v));
		json_object_set_new(dst, "mode", json_string(buf));
	}
}

/* The object at key in o, created when missing (a borrowed reference). */
static json_t *sub(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		v = json_object();
		json_object_set_new(o, key, v);
	}
	return v;
}

static void drop_empty(json_t *doc, const char *key)
{
	json_t *v = json_object_get(doc, key);

	if (json_is_object(v) && json_object_size(v) == 0)
		json_object_del(doc, key);
}

static void map_process(json_t *doc, const json_t *rec, const char *type)
{
	json_t *p = sub(doc, "process");

	copy(p, "pid", rec, "pid");
	copy(p, "name", rec, "comm");
	if (json_object_get(rec, "tid"))
		copy(sub(p, "thread"), "id", rec, "tid");
	if (json_object_get(rec, "ppid"))
		copy(sub(p, "parent"), "pid", rec, "ppid");
	if (!strcmp(type, "exec")) {
		json_t *argv = json_object_get(rec, "argv");

		copy(p, "executable", rec, "exe");
		copy(p, "args", rec, "argv");
		if (json_is_array(argv))
			json_object_set_new(p, "args_count", json_integer((json_int_t)json_array_size(argv)));
	} else if (!strcmp(type, "exit")) {
		copy(p, "exit_code", rec, "code");
	} else if (!strcmp(type, "session_start")) {
		copy(p, "args", rec, "argv");
	} else if (!strcmp(type, "session_end")) {
		copy(p, "exit_code", rec, "exit_status");
	}
	drop_empty(doc, "process");
	if (json_object_get(rec, "uid"))
		copy_str(sub(doc, "user"), "id", rec, "uid");
	if (json_object_get(rec, "gid"))
		copy_str(sub(doc, "group"), "id", rec, "gid");
}

static void map_file(json_t *doc, const json_t *rec, const char *type)
{
	json_t *f = sub(doc, "file");

	if (!strcmp(type, "rename")) {
		copy(f, "path", rec, "from");
		copy(f, "target_path", rec, "to");
	} else {
		copy(f, "path", rec, "path");
		if (!strcmp(type, "symlink") || !strcmp(type, "link"))
			copy(f, "target_path", rec, "target");
	}
	copy_mode(f, rec);
	if (!strcmp(type, "chown")) {
		copy_str(f, "uid", rec, "owner");
		copy_str(f, "gid", rec, "group");
	}
	drop_empty(doc, "file");
}

static void map_connect(json_t *doc, const json_t *rec)
{
	json_t *d = sub(doc, "destination");
	const char *family = json_string_value(json_object_get(rec, "family"));
	bool ip = family && (!strcmp(family, "AF_INET") || !strcmp(family, "AF_INET6"));

	copy(d, ip ? "ip" : "address", rec, "addr");
	copy(d, "port", rec, "port");
	if (ip)
		json_object_set_new(sub(doc, "network"), "type", json_string(family[7] ? "ipv6" : "ipv4"));
	drop_empty(doc, "destination");
}

const char *ecs_outcome(const json_t *rec)
{
	const char *type = json_string_value(json_object_get(rec, "type")) ?: "";
	json_t *ret = json_object_get(rec, "ret");
	const char *verdict = json_string_value(json_object_get(rec, "verdict"));

	if (verdict && !strcmp(verdict, "deny"))
		return "failure";
	if (json_is_integer(ret))
		return json_integer_value(ret) < 0 ? "failure" : "success";
	if (!strcmp(type, "exec") || !strcmp(type, "fork"))
		return "success";
	return "unknown";
}

json_t *ecs_document(const json_t *rec, const char *original, size_t len, const char *hostname)
{
	const char *type = json_string_value(json_object_get(rec, "type"));
	const char *journal = json_string_value(json_object_get(rec, "journal"));
	json_t *seq = json_object_get(rec, "seq");
	const struct ecs_class *c;
	json_t *doc, *ev, *st, *oc;
	char id[ECS_ID_LEN];
	bool denied;

	if (!type || !journal || !json_is_integer(seq))
		return NULL;
	c = ecs_class_of(type);
	doc = json_object();
	if (!doc)
		return NULL;
	copy(doc, "@timestamp", rec, "ts");
	json_object_set_new(sub(doc, "ecs"), "version", json_string(ECS_VERSION));
	ev = sub(doc, "event");
	ecs_id(id, journal, (uint64_t)json_integer_value(seq));
	json_object_set_new(ev, "id", json_string(id));
	json_object_set_new(ev, "kind", json_string(!strcmp(type, "export_error") ? "pipeline_error" : "event"));
	json_object_set_new(ev, "category", json_pack("[s]", c->category));
	denied = !strcmp(type, "connect") &&
		 !strcmp(json_string_value(json_object_get(rec, "verdict")) ?: "", "deny");
	if (denied)
		json_object_set_new(ev, "type", json_pack("[ss]", c->ecs_type, "denied"));
	else
		json_object_set_new(ev, "type", json_pack("[s]", c->ecs_type));
	json_object_set_new(ev, "action", json_string(type));
	json_object_set_new(ev, "outcome", json_string(ecs_outcome(rec)));
	json_object_set(ev, "sequence", seq);
	json_object_set_new(ev, "module", json_string("sandtrail"));
	json_object_set_new(ev, "dataset", json_string("sandtrail.audit"));
	json_object_set_new(ev, "original", json_stringn(original, len));
	if (hostname && *hostname)
		json_object_set_new(sub(doc, "host"), "hostname", json_string(hostname));
	copy(doc, "labels", rec, "labels");
	if (json_object_get(rec, "error"))
		copy(sub(doc, "error"), "code", rec, "error");

	if (!strcmp(c->category, "file"))
		map_file(doc, rec, type);
	else if (!strcmp(type, "connect"))
		map_connect(doc, rec);
	if (json_object_get(rec, "pid") || !strcmp(c->category, "session"))
		map_process(doc, rec, type);

	st = sub(doc, "sandtrail");
	copy(st, "journal", rec, "journal");
	json_object_set(st, "seq", seq);
	copy(st, "session", rec, "session");
	copy(st, "type", rec, "type");
	copy(st, "syscall", rec, "syscall");
	copy(st, "sealed", rec, "sealed");
	copy(st, "tampered", rec, "tampered");
	copy(st, "setup", rec, "setup");
	copy(st, "view", rec, "view");
	copy_str(st, "cgroup", rec, "cgroup");
	oc = sub(st, "ocsf");
	json_object_set_new(oc, "class_uid", json_integer(c->ocsf_class));
	json_object_set_new(oc, "class_name", json_string(c->ocsf_name));
	json_object_set_new(oc, "activity_id", json_integer(denied ? 5 : c->ocsf_activity)); /* Refuse */
	json_object_set_new(oc, "type_uid",
			    json_integer((json_int_t)c->ocsf_class * 100 + (denied ? 5 : c->ocsf_activity)));
	return doc;
}
