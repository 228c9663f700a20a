# test_export_es.sh: each record of `sandtrail replay --format json` (the
# input) against the ECS document stored for its seq ($docs[0], by seq),
# field by field as schemas/ecs.md maps them; prints every difference.
# $jid: the journal's id (replay shows a seal's own journal field instead).
def same($field; $got; $want):
	if $got == $want then empty else {seq: .seq, type: .type, field: $field, got: $got, want: $want} end;
def str: if . == null then null else tostring end;
def octal: if . == null then null else
	"0" + ([recurse(if . >= 8 then (. / 8 | floor) else empty end) | . % 8] | reverse | map(tostring) | join("")) end;
def outcome:
	if .verdict == "deny" then "failure"
	elif .ret != null then (if .ret < 0 then "failure" else "success" end)
	elif .type == "exec" or .type == "fork" then "success"
	else "unknown" end;

. as $r
| ($docs[0][$r.seq | tostring]) as $d
| if $r.type == "export_error" and $r.first == 5 then empty   # written after the refusal: may be shipped or not
  elif $r.seq == 5 then (if $d == null then empty else same("refused record"; "stored"; null) end)
  elif $d == null then same("document"; null; "stored")
  else
	same("@timestamp"; $d["@timestamp"]; $r.ts),
	same("ecs.version"; $d.ecs.version; "8.11.0"),
	same("event.id"; $d.event.id; "\($jid)-\($r.seq)"),
	same("event.action"; $d.event.action; $r.type),
	same("event.sequence"; $d.event.sequence; $r.seq),
	same("event.kind"; $d.event.kind; (if $r.type == "export_error" then "pipeline_error" else "event" end)),
	same("event.outcome"; $d.event.outcome; $r | outcome),
	same("event.module"; $d.event.module; "sandtrail"),
	same("event.original"; $d.event.original | fromjson | del(.journal); $r | del(.journal)),
	same("sandtrail.journal"; $d.sandtrail.journal; $jid),
	same("sandtrail.session"; $d.sandtrail.session; $r.session),
	same("sandtrail.sealed"; $d.sandtrail.sealed; $r.sealed),
	same("sandtrail.syscall"; $d.sandtrail.syscall; $r.syscall),
	same("labels"; $d.labels; $r.labels),
	same("error.code"; $d.error.code; $r.error),
	same("process.pid"; $d.process.pid; $r.pid),
	same("process.thread.id"; $d.process.thread.id; $r.tid),
	same("process.parent.pid"; $d.process.parent.pid; $r.ppid),
	same("process.name"; $d.process.name; $r.comm),
	same("user.id"; $d.user.id; $r.uid | str),
	same("group.id"; $d.group.id; $r.gid | str),
	(if $r.type == "exec" then
		same("process.args"; $d.process.args; $r.argv),
		same("process.executable"; $d.process.executable; $r.exe)
	 elif $r.type == "exit" then same("process.exit_code"; $d.process.exit_code; $r.code)
	 elif $r.type == "rename" then
		same("file.path"; $d.file.path; $r.from),
		same("file.target_path"; $d.file.target_path; $r.to)
	 elif $r.type == "connect" then
		same("destination.port"; $d.destination.port; $r.port),
		same(if $r.family == "AF_INET" or $r.family == "AF_INET6" then "destination.ip" else "destination.address" end;
		     $d.destination.ip // $d.destination.address; $r.addr)
	 else empty end),
	(if $d.event.category == ["file"] and $r.type != "rename" then
		same("file.path"; $d.file.path; $r.path),
		same("file.mode"; $d.file.mode; $r.mode | octal)
	 else empty end)
  end
