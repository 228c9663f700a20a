# Sourced by bench/run.sh and bench/rows/*.sh: a private directory, cleanups
# that run even on failure (LIFO), the variants under test (collector, floor
# probes, auditd) started and stopped by their pid, statistics, and result
# rows (one JSON object each) that run.sh prints and writes to results.json.
set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) BIN=$BUILD ;; *) BIN=$TOP/$BUILD ;; esac
SANDTRAILD=$BIN/sandtraild
SANDTRAIL=$BIN/sandtrail
LOADGEN=$BIN/bench/loadgen
QUICK=${BENCH_QUICK:-}
B=$(mktemp -d /tmp/sandtrail-bench.XXXXXX) || exit 1
readonly B # removed at exit: never let it name anything else
ROWS=$B/rows.jsonl
: >"$ROWS"
AUID=$((3000000000 + $$)) # loginuid of every workload: auditd's rules select it
CLK_TCK=$(getconf CLK_TCK)
_cleanups=()

defer() { _cleanups+=("$*"); }

source "$TOP/tests/session_parents.sh"
PARENTS_BEFORE=$(session_parents)

_on_exit() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[i]}" >/dev/null 2>&1
	done
	# bench_cgroup runs in $(...), where a defer would be lost: its cgroups go here
	for cg in "$(cg2_root)"/sandtrail-bench-$$-*; do
		[ -d "$cg" ] && drop_cgroup "$cg"
	done
	remove_new_session_parents "$PARENTS_BEFORE"
	case $B in /tmp/sandtrail-bench.?*) rm -rf "$B" ;; esac
}
trap _on_exit EXIT
trap 'exit 130' INT TERM HUP

log() { printf '%s\n' "$*" >&2; }

# quick FULL QUICK: the value for this mode
quick() { if [ -n "$QUICK" ]; then echo "$2"; else echo "$1"; fi; }

# ---- statistics (numbers on stdin, one a line) ----
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# calc EXPR: floating point arithmetic, 4 decimals
calc() { awk "BEGIN { printf \"%.4f\n\", $* }"; }
# ratio_fmt R: "1.234x"
ratio_fmt() { awk -v r="$1" 'BEGIN { printf "%.3fx", r }'; }

# ---- cgroups ----
cg2_root() { awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo; }

# drop_cgroup CG: kills what is left in CG, removes it
drop_cgroup() {
	echo 1 >"$1/cgroup.kill" 2>/dev/null
	for _ in $(seq 50); do
		rmdir "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# bench_cgroup NAME: a fresh cgroup v2 directory, removed at exit (_on_exit)
bench_cgroup() {
	local cg
	cg=$(cg2_root)/sandtrail-bench-$$-$1
	mkdir "$cg" || return 1
	echo "$cg"
}

# in_cgroup CG CMD...: CMD in CG with the bench's loginuid (see AUID)
in_cgroup() {
	local cg=$1
	shift
	sh -c 'echo $$ >"$1/cgroup.procs" && echo "$2" >/proc/self/loginuid && shift 2 && exec "$@"' _ "$cg" "$AUID" "$@"
}

# ---- processes ----
# cpu_ticks PID...: user + system clock ticks of the processes, summed
cpu_ticks() {
	local p sum=0 t
	for p in "$@"; do
		t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}

# sched_ms PID: "RUN WAIT": ms the process's threads ran and ms they waited,
# runnable, for a CPU (/proc/PID/task/*/schedstat)
sched_ms() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ r += $1; w += $2 } END { printf "%d %d\n", r / 1e6, w / 1e6 }'; }

# settle PID...: waits until the processes stop using CPU (work queued by a
# workload is done), at most 10 s
settle() {
	local prev cur
	prev=$(cpu_ticks "$@")
	for _ in $(seq 100); do
		sleep 0.1
		cur=$(cpu_ticks "$@")
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
	done
}

# wait_line FILE PATTERN PID: until FILE has a line matching PATTERN (5 s), or PID died
wait_line() {
	for _ in $(seq 500); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

# start_ready VAR CMD...: CMD in the background until it says "NAME: ready"
# on stderr (NAME: CMD's base name, its stderr in $B/NAME.err); VAR gets its
# pid, for stop_pid
start_ready() {
	local var=$1 name=${2##*/} pid
	shift
	"$@" 2>"$B/$name.err" &
	pid=$!
	printf -v "$var" %s "$pid"
	wait_line "$B/$name.err" "^$name: ready" "$pid" && return 0
	log "$name did not start: $(cat "$B/$name.err")"
	stop_pid "$pid"
	printf -v "$var" %s ""
	return 1
}

# stop_pid PID: SIGTERM, then SIGKILL after 20 s; waits for it
stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# ---- variant: sandtraild (full pipeline into its journal) ----
COLLECTOR_PID=
COLLECTOR_N=0
# collector_start [ARGS...]: a private sandtraild with a fresh journal;
# sets JOURNAL, KEY, PUBKEY, SANDTRAIL_SOCKET, COLLECTOR_PID
collector_start() {
	collector_stop # one at a time: a section that failed may have left one
	COLLECTOR_N=$((COLLECTOR_N + 1))
	JOURNAL=$B/journal.$COLLECTOR_N
	KEY=$B/keys.$COLLECTOR_N/signing.key # a fresh key: keys evolve in place, per journal
	PUBKEY=$B/keys.$COLLECTOR_N/signing.pub
	export SANDTRAIL_SOCKET=$B/control.sock
	mkdir -p "$B/keys.$COLLECTOR_N"
	start_ready COLLECTOR_PID "$SANDTRAILD" --journal "$JOURNAL" --socket "$SANDTRAIL_SOCKET" --key "$KEY" \
		--create-key "$@"
}
collector_stop() {
	[ -z "$COLLECTOR_PID" ] || stop_pid "$COLLECTOR_PID"
	COLLECTOR_PID=
}
# collector_watch CG: makes CG a session; prints its id
collector_watch() { "$SANDTRAIL" watch --cgroup "$1"; }
# journal_drop: the last collector's journal (they grow by millions of records)
journal_drop() { rm -rf "$B/journal.$COLLECTOR_N" "$B/keys.$COLLECTOR_N"; }
defer collector_stop

# ---- variant: floor probes (bench/floor.bpf.c) ----
FLOOR_PID=
floor_start() {
	floor_stop
	start_ready FLOOR_PID "$BIN/bench/floor" --cgroup "$1" --check "$BIN/sandtrail.bpf.o"
}
floor_stop() {
	[ -z "$FLOOR_PID" ] || stop_pid "$FLOOR_PID"
	FLOOR_PID=
}
defer floor_stop

# ---- variant: auditd recording the syscalls sandtrail records ----
# The audit state is global: audit_start notes it, audit_stop puts it back
# (our rules deleted by key, our auditd stopped, enabled flag and backlog
# limit as they were).  We never touch an audit daemon we did not start.
# What cannot be put back: once audit was enabled, the kernel gives every
# task created until reboot an audit context (audit_ever_enabled), so their
# syscalls take the audit path even with audit disabled.  BENCH_SKIP_AUDITD=1
# leaves audit alone.
AUDIT_KEY=sandtrail-bench-$$
AUDIT_SYSCALLS=open,openat,openat2,creat,execve,execveat,connect,unlink,unlinkat,rmdir,rename,renameat,renameat2,clone,clone3,fork,vfork
AUDIT_RULE="-a always,exit -F arch=b64 -S $AUDIT_SYSCALLS -F auid=$AUID -k $AUDIT_KEY"
AUDITD_PID=
AUDIT_SAVED=
audit_field() { auditctl -s 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'; }

# audit_unusable: why auditd cannot be measured here (empty: it can)
audit_unusable() {
	[ -z "${BENCH_SKIP_AUDITD:-}" ] || { echo "BENCH_SKIP_AUDITD is set"; return; }
	command -v auditctl >/dev/null && command -v auditd >/dev/null || { echo "auditd is not installed"; return; }
	local en pid
	en=$(audit_field enabled)
	pid=$(audit_field pid)
	[ -n "$en" ] || { echo "auditctl -s fails (no audit support in this kernel?)"; return; }
	[ "$en" != 2 ] || { echo "audit is locked (enabled 2)"; return; }
	[ "${pid:-0}" = 0 ] || { echo "an audit daemon (pid $pid) already runs"; return; }
}

audit_start() {
	if [ -z "$AUDIT_SAVED" ]; then
		AUDIT_SAVED="$(audit_field enabled) $(audit_field backlog_limit)"
		auditctl -l >"$B/audit.rules.before" 2>&1
		defer audit_stop
	fi
	mkdir -p "$B/audit"
	sed "s|^log_file *=.*|log_file = $B/audit/audit.log|" /etc/audit/auditd.conf >"$B/audit/auditd.conf"
	auditctl -b 8192 >/dev/null && auditctl -e 1 >/dev/null || return 1
	auditd -n -s nochange -c "$B/audit" 2>"$B/auditd.err" &
	AUDITD_PID=$!
	for _ in $(seq 100); do
		[ "$(audit_field pid)" = "$AUDITD_PID" ] && break
		sleep 0.05
	done
	[ "$(audit_field pid)" = "$AUDITD_PID" ] || { log "auditd did not register: $(cat "$B/auditd.err")"; return 1; }
	# shellcheck disable=SC2086
	auditctl $AUDIT_RULE >/dev/null
}

# audit_stop: idempotent; also the exit trap's
audit_stop() {
	[ -n "$AUDIT_SAVED" ] || return 0
	auditctl -D -k "$AUDIT_KEY" >/dev/null 2>&1
	if [ -n "$AUDITD_PID" ]; then
		stop_pid "$AUDITD_PID"
		AUDITD_PID=
	fi
	set -- $AUDIT_SAVED
	auditctl -e "$1" >/dev/null 2>&1
	auditctl -b "$2" >/dev/null 2>&1
}

# audit_restored: the machine's audit state is what audit_start found
audit_restored() {
	[ -n "$AUDIT_SAVED" ] || return 0
	[ "$(audit_field enabled) $(audit_field backlog_limit)" = "$AUDIT_SAVED" ] &&
		auditctl -l 2>&1 | cmp -s - "$B/audit.rules.before"
}

# ---- result rows ----
# row ID TITLE RESULT TARGET STATUS REPRODUCE NOTE [JSON-DETAIL]
#   STATUS: met | missed | info | skipped | error
row() {
	jq -nc --arg id "$1" --arg title "$2" --arg result "$3" --arg target "$4" --arg status "$5" \
		--arg reproduce "$6" --arg note "$7" --argjson detail "${8:-{\}}" \
		'{id: $id, title: $title, result: $result, target: $target, status: $status,
		  reproduce: $reproduce, note: $note, detail: $detail}' >>"$ROWS"
	print_row "$(tail -n 1 "$ROWS")"
}

print_row() {
	jq -r '"\(.title | .[0:48] | . + " " * (48 - length)) \(.result | . + " " * ([0, 32 - length] | max)) \(.target | . + " " * ([0, 20 - length] | max)) \(.status)",
		(select(.reproduce != "") | "    reproduce: \(.reproduce)"),
		(select(.note != "") | "    note: \(.note)")' <<<"$1"
}

# ---- where the time goes (perf, cpu-clock sampling: no hardware counters needed) ----
# perf_top FILE REGEX N [children|no-children]: "symbol share, ..." for the N
# largest symbols matching REGEX, with (children) or without what they call
# (BPF programs shown as bpf:NAME)
perf_top() {
	perf report -i "$1" --stdio "--${4:-children}" --sort sym -g none 2>/dev/null | awk -v re="$2" -v n="$3" '
		/^#/ || $1 !~ /%$/ { next }
		{
			sym = $NF
			sub(/^bpf_prog_[0-9a-f]+_/, "bpf:", sym)
			if (sym !~ re || seen[sym]++)
				next
			printf "%s%s %s", sep, sym, $1
			sep = ", "
			if (++k == n)
				exit
		}'
}

# perf_share FILE SYMBOL: the share of samples under SYMBOL (bpf:NAME for a
# BPF program), 0 if none
perf_share() {
	perf report -i "$1" --stdio --children --sort sym -g none 2>/dev/null | awk -v s="$2" '
		$1 ~ /%$/ { sym = $NF; sub(/^bpf_prog_[0-9a-f]+_/, "bpf:", sym); if (sym == s) { print $1 + 0; found = 1; exit } }
		END { if (!found) print 0 }'
}

# perf_bpf_share FILE: the share of samples in BPF programs and the helpers
# they call (run through perf-event tracepoints or through raw/BTF ones)
perf_bpf_share() {
	perf report -i "$1" --stdio --children --sort sym -g none 2>/dev/null |
		awk '$1 ~ /%$/ && $NF ~ /^(trace_call_bpf|bpf_trace_run[0-9]+)$/ { t += $1 } END { printf "%.2f\n", t }'
}

# verdict COND: met when the awk condition holds
verdict() { if awk "BEGIN { exit !($*) }"; then echo met; else echo missed; fi; }
