#!/usr/bin/env bash
# Hostile names: newlines, quotes, control bytes, invalid UTF-8 and
# bidirectional overrides reach the records as the kernel saw them and come
# out escaped, never raw; paths and argv longer than the kernel side keeps
# are flagged as truncated, and a path just under PATH_MAX is kept whole.
source "$(dirname "$0")/lib.sh"
plan 17

start_daemon || { not_ok "sandtraild starts"; exit 1; }
cg=$(mk_cgroup names)
id=$("$SANDTRAIL" watch --cgroup "$cg") || { not_ok "watch"; exit 1; }
work=$(readlink -f "$T")/in
mkdir "$work"

# a path of 4090 bytes (PATH_MAX is 4096 with its NUL), made of 250-byte names
comp=$(printf 'n%.0s' $(seq 250))
long=$work
while [ $((${#long} + 251)) -le 4080 ]; do long=$long/$comp; done
mkdir -p "$long"
leaf=$(printf 'f%.0s' $(seq $((4090 - ${#long} - 1))))
long=$long/$leaf
echo x >"$long"
# a directory deeper than ST_PATH_MAX, reached by relative steps
deep=$work/deep
mkdir "$deep"
(cd "$deep" && for _ in $(seq 20); do mkdir "$comp" && cd "$comp" || exit 1; done && echo x >f)
toolong=$(printf './%.0s' $(seq 2100))f
cp /bin/true "$work/"$'t\x01rue'

run_in_cgroup "$cg" /bin/bash -c '
	cd "$1"
	/usr/bin/touch $'"'"'new\nline'"'"' "q\"uote" $'"'"'ctl\x01\x7f'"'"' $'"'"'bad\xff\xfe'"'"' $'"'"'\xe2\x80\xaertl'"'"' $'"'"'esc\x1b[31m'"'"'
	/bin/mv $'"'"'new\nline'"'"' $'"'"'tab\tname'"'"'
	/bin/echo $'"'"'arg\nwith newline'"'"' >/dev/null
	"$1/"$'"'"'t\x01rue'"'"'
	/bin/cat "$2" >/dev/null
	/bin/cat "$3" 2>/dev/null
	(cd "$4"; for i in $(seq 20); do cd "$5"; done; /bin/cat f >/dev/null)
	/bin/true $(seq 1 70)
	/bin/true "$(head -c 5000 /dev/zero | tr "\0" a)"
	true' _ "$work" "$long" "$toolong" "$deep" "$comp"

"$SANDTRAIL" unwatch "$id"
stop_daemon
replay_json "$id" >"$T/r.json" 2>/dev/null
"$SANDTRAIL" replay --journal "$JOURNAL" --session "$id" --format text >"$T/r.txt" 2>/dev/null
has() { test "$(jq_count "$T/r.json" "$1")" -ge 1 || { diag "no record matches: $1"; return 1; }; }

check "newline: escaped as \\n" has '.type=="open" and .path=="'"$work"'/new\\nline"'
check "quote: kept, JSON-quoted" has '.type=="open" and .path=="'"$work"'/q\"uote"'
check "control bytes: \\xHH" has '.type=="open" and .path=="'"$work"'/ctl\\x01\\x7f"'
check "invalid UTF-8: \\xHH" has '.type=="open" and .path=="'"$work"'/bad\\xff\\xfe"'
check "bidi override: \\u{202e}" has '.type=="open" and .path=="'"$work"'/\\u{202e}rtl"'
check "escape sequence: \\x1b" has '.type=="open" and .path=="'"$work"'/esc\\x1b[31m"'
check "rename of a name with a newline to one with a tab" has \
	'.type=="rename" and .from=="'"$work"'/new\\nline" and .to=="'"$work"'/tab\\tname" and .from_requested=="new\\nline" and .ret==0'
check "argv with a newline" has '.type=="exec" and .argv==["/bin/echo","arg\\nwith newline"]'
check "comm with a control byte" has '.type=="exec" and .comm=="t\\x01rue" and .ret==0'
check "no raw control byte, ESC, DEL or invalid UTF-8 in the JSON output" \
	bash -c '! LC_ALL=C grep -qP "[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\xff\xfe]" "$1"' _ "$T/r.json"
check "none in the text output either" \
	bash -c 'test -s "$1" && ! LC_ALL=C grep -qP "[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\xff\xfe]|\xe2\x80\xae" "$1"' _ "$T/r.txt"

check "a 4090-byte path is kept whole, requested and resolved" has \
	'.type=="open" and .requested=="'"$long"'" and .path=="'"$long"'" and (.path|length)==4090 and (has("path_truncated")|not) and .ret>=0'
check "a requested path over 4096 bytes is cut and flagged" has \
	'.type=="open" and .ret==-36 and (.requested|length)==4096 and .requested_truncated==true and .path_truncated==true'
check "a resolved path deeper than 4096 bytes keeps its leaf and is flagged" has \
	'.type=="open" and .requested=="f" and (.path|endswith("/'"$comp"'/f")) and .path_truncated==true and .ret>=0'
check "more than 64 arguments: flagged" has \
	'.type=="exec" and .filename=="/bin/true" and (.argv|length)==64 and .argv[63]=="63" and .argv_truncated==true'
check "argv over 4096 bytes: flagged" has \
	'.type=="exec" and .filename=="/bin/true" and (.argv|length)==2 and (.argv[1]|length)<4096 and .argv_truncated==true'
check "short argv is not flagged" has \
	'.type=="exec" and .filename=="/bin/echo" and (has("argv_truncated")|not)'
