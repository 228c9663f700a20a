#!/usr/bin/env bash
# The man pages `make install` writes: each renders at 80 columns without a
# groff warning, sandtrail(1) has a section for every command of the CLI's
# table and names every flag of their --help, and with them installed the
# unit's Documentation=man:sandtraild(8) resolves (systemd-analyze verify
# without --man=no).
source "$(dirname "$0")/lib.sh"
plan 11

DEST=$T/dest
make -s -C "$TOP" install DESTDIR="$DEST" PREFIX=/usr BUILD="$BUILD" >"$T/install.out" 2>&1
check "make install DESTDIR=... PREFIX=/usr" test $? -eq 0 || diag "$(tail -5 "$T/install.out")"
MAN=$DEST/usr/share/man

for page in man1/sandtrail.1 man1/sandtrail-journal.1 man8/sandtraild.8 man8/sandtrail-proxy.8 man5/sandtrail-policy.5 man5/sandtrail-records.5; do
	name=${page#*/}
	MANWIDTH=80 man --warnings -l "$MAN/$page" >"$T/$name.txt" 2>"$T/$name.err"
	rc=$?
	check "$name renders with man -l --warnings: no warning, a NAME section naming it" \
		bash -c '[ $0 -eq 0 ] && [ ! -s "$1" ] && grep -A1 "^NAME" "$2" | grep -q "^ *$3 - "' \
		"$rc" "$T/$name.err" "$T/$name.txt" "${name%.*}" || diag "$(head -5 "$T/$name.err")"
done

# the commands as the CLI's table lists them
mapfile -t CMDS < <("$SANDTRAIL" --help | sed -n '/^commands:/,/^$/{/^  /s/^  \([a-z]*\).*/\1/p}')
check "sandtrail --help lists the commands" test ${#CMDS[@]} -ge 8
missing=
for c in "${CMDS[@]}"; do
	grep -q "^   sandtrail $c\$" "$T/sandtrail.1.txt" || missing+=" $c"
done
check "sandtrail(1) has a section for every command" test -z "$missing" || diag "missing:$missing"
# every flag each command's option lines name, under that command's section
missing=
for c in "${CMDS[@]}"; do
	sed -n "/^   sandtrail $c\$/,/^   [a-z]/p" "$T/sandtrail.1.txt" >"$T/sect"
	for f in $("$SANDTRAIL" "$c" --help | awk '/^ +-/ { sub(/,$/, "", $1); if ($1 ~ /^--?[A-Za-z][A-Za-z0-9-]*$/) print $1 }'); do
		grep -qe "^ *$f\\b" "$T/sect" || missing+=" $c:$f"
	done
done
check "... and every option of each command's --help" test -z "$missing" || diag "missing:$missing"

# verify checks ExecStart's binary: the built one stands in for /usr/bin
UNIT=$DEST/lib/systemd/system/sandtraild.service
sed "s#^ExecStart=/usr/bin/#ExecStart=$BIN/#" "$UNIT" >"$T/sandtraild.service"
MANPATH=$MAN systemd-analyze verify "$T/sandtraild.service" >"$T/verify.out" 2>&1
rc=$?
check "systemd-analyze verify with the pages installed (man:sandtraild(8) found)" \
	test $rc -eq 0 -a ! -s "$T/verify.out" || diag "$(cat "$T/verify.out")"
