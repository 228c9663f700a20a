#!/usr/bin/env bash
# Bash completion of sandtrail as `make install` writes it, driven as bash
# does: the file sourced, COMP_WORDS/COMP_CWORD set, the function that
# `complete -p sandtrail` names called, COMPREPLY read.  What it must offer
# comes from the CLI's own --help, read here independently.
source "$(dirname "$0")/lib.sh"
plan 10

DEST=$T/dest
make -s -C "$TOP" install DESTDIR="$DEST" PREFIX=/usr BUILD="$BUILD" >"$T/install.out" 2>&1
check "make install DESTDIR=... PREFIX=/usr" test $? -eq 0 || diag "$(tail -5 "$T/install.out")"
COMP=$DEST/usr/share/bash-completion/completions/sandtrail
FN=$(bash -c 'source "$1" && complete -p sandtrail' _ "$COMP" | sed -n 's/^complete -F \([^ ]*\) sandtrail$/\1/p')
check "the completion file registers a function for sandtrail" test -n "$FN"

# complete WORD...: the sorted completions of the last WORD (cursor at its end)
complete_words() {
	(cd "$T/files" && bash -c 'source "$1"; fn=$2; shift 2; COMP_WORDS=(sandtrail "$@");
		COMP_CWORD=$#; COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
		"$fn" sandtrail "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP" "$FN" "$@") | sort
}
mkdir -p "$T/files" && touch "$T/files/key.pub" "$T/files/other"

mapfile -t CMDS < <("$SANDTRAIL" --help | sed -n '/^commands:/,/^$/{/^  /s/^  \([a-z]*\).*/\1/p}')
check "sandtrail <TAB>: the commands of the CLI's table, and --help" \
	test "$(complete_words '')" = "$(printf '%s\n' "${CMDS[@]}" --help | sort)" ||
	diag "got: $(complete_words '' | tr '\n' ' ')"
check "sandtrail re<TAB>: replay" test "$(complete_words re)" = replay

# every flag that opens an option line of a command's --help, under that command
missing=
for c in "${CMDS[@]}"; do
	got=$(complete_words "$c" -)
	for f in $("$SANDTRAIL" "$c" --help | awk '/^ +-/ { sub(/,$/, "", $1); if ($1 ~ /^--?[A-Za-z][A-Za-z0-9-]*$/) print $1 }'); do
		grep -qxe "$f" <<<"$got" || missing+=" $c:$f"
	done
done
check "sandtrail CMD -<TAB>: every option of each command's --help" test -z "$missing" || diag "missing:$missing"
check "sandtrail keygen --<TAB>: only keygen's options (not the flags its text mentions)" \
	test "$(complete_words keygen --)" = "$(printf '%s\n' --help --out --socket)" ||
	diag "got: $(complete_words keygen -- | tr '\n' ' ')"
MODES=$("$SANDTRAIL" run --help | sed -n '1s/.*--mode \([a-z|]*\).*/\1/p' | tr '|' '\n' | sort)
check "sandtrail run --mode <TAB>: the modes of run's usage ($(echo $MODES))" \
	test "$(complete_words run --mode '')" = "$MODES" -a "$(wc -l <<<"$MODES")" -ge 2
check "sandtrail replay --format j<TAB>: json" test "$(complete_words replay --format j)" = json
check "sandtrail verify --pubkey k<TAB>: files" test "$(complete_words verify --pubkey k)" = key.pub
got=$(complete_words run --network none -- tru)
check "sandtrail run ... -- tru<TAB>: commands (true); then its arguments are files" \
	bash -c 'grep -qx true <<<"$1" && [ "$2" = other ]' _ "$got" "$(complete_words run -- cat o)" ||
	diag "got: $(tr '\n' ' ' <<<"$got")"
