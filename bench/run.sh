#!/usr/bin/env bash
# `make bench`: every row of issue 5 whose feature is built, each a ratio to a
# baseline measured in the same run (medians, variants interleaved), printed
# as a table with the command that reproduces it, and written to
# bench/results.json.  BENCH_QUICK=1 runs each row briefly (checks the
# harness); BENCH_ROWS="loss rss" runs only those sections.
#
# A section is bench/rows/NN-name.sh defining section_<name>; it reports
# through `row` (bench/lib.sh).  New rows (gVisor, microVM, Kafka) are new files.
cd "$(dirname "$0")/.." || exit 1
source bench/lib.sh

if [ "$(id -u)" != 0 ]; then
	echo "bench: must run as root (BPF, cgroups, audit)" >&2
	exit 2
fi
for f in "$SANDTRAILD" "$SANDTRAIL" "$LOADGEN" "$BIN/bench/floor" "$BIN/bench/seal_latency"; do
	[ -x "$f" ] || { echo "bench: $f is missing (make bench builds it)" >&2; exit 2; }
done

perf_note() {
	if perf stat -e instructions true 2>&1 | grep -q 'not supported'; then
		echo "perf $(perf --version | awk '{ print $3 }'): no hardware counters here (virtual machine); software events (task-clock, cpu-clock sampling) work"
	elif perf stat -e task-clock true >/dev/null 2>&1; then
		echo "perf $(perf --version | awk '{ print $3 }'): hardware counters available"
	else
		echo "perf unusable here (Debian's linux-perf does not match kernel $(uname -r))"
	fi
}

{
	echo "sandtrail bench $(git rev-parse --short HEAD 2>/dev/null)${QUICK:+ (quick: brief runs, figures are rough)}"
	echo "machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "$(perf_note)"
	echo "tools: $(hyperfine --version), bwrap $(bwrap --version | awk '{ print $2 }'), auditd $(auditctl -v | awk '{ print $3 }')"
} | tee "$B/header"

sections=${BENCH_ROWS:-$(for f in bench/rows/*.sh; do basename "$f" .sh | sed 's/^[0-9]*-//'; done)}
for f in bench/rows/*.sh; do source "$f"; done
printf '\n%-48s %-32s %-20s %s\n' row result target status
for s in $sections; do
	"section_$s" || log "section $s failed"
done

echo
echo "== summary"
jq -r 'select(.status == "met" or .status == "missed" or .status == "error" or .status == "skipped")
	| "\(.status | ascii_upcase | . + " " * (8 - length)) \(.title): \(.result) (target \(.target))"' "$ROWS"
jq -s --rawfile header "$B/header" --arg quick "$QUICK" \
	'{header: ($header | rtrimstr("\n") | split("\n")), quick: ($quick != ""), rows: .}' "$ROWS" >bench/results.json
echo "bench/results.json written"
