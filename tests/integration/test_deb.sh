#!/usr/bin/env bash
# make deb: the package's contents (dpkg-deb -c), its control fields, lintian
# clean, and what its maintainer scripts do, run against stub commands that
# log their arguments (the package is never installed on this shared host).
source "$(dirname "$0")/lib.sh"
plan 11

make -s -C "$TOP" deb BUILD="$BUILD" >"$T/deb.out" 2>&1
check "make deb" test $? -eq 0 || diag "$(tail -5 "$T/deb.out")"
DEB=$(ls "$BIN"/deb/sandtrail_*_amd64.deb 2>/dev/null | head -1)
check "... writes build/deb/sandtrail_VERSION_amd64.deb" test -f "$DEB"

dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's#^\./#/#' >"$T/files"
missing=
for f in /usr/bin/sandtraild /usr/bin/sandtrail /usr/bin/sandtrail-journal /usr/bin/sandtrail-proxy \
	/lib/systemd/system/sandtraild.service /usr/lib/sysusers.d/sandtrail.conf \
	/usr/share/man/man1/sandtrail.1.gz /usr/share/man/man1/sandtrail-journal.1.gz \
	/usr/share/man/man8/sandtraild.8.gz /usr/share/man/man8/sandtrail-proxy.8.gz /usr/share/man/man5/sandtrail-policy.5.gz \
	/usr/share/man/man5/sandtrail-records.5.gz /usr/share/bash-completion/completions/sandtrail \
	/usr/share/doc/sandtrail/copyright; do
	grep -qxF "$f" "$T/files" || missing+=" $f"
done
check "dpkg-deb -c: binaries, the unit, sysusers.d, the man pages, completion, copyright" \
	test -z "$missing" || diag "missing:$missing"
check "... and nothing under /usr/local" bash -c '! grep -q "^/usr/local" "$1"' _ "$T/files"

mkdir -p "$T/x" && dpkg-deb -x "$DEB" "$T/x" && dpkg-deb -e "$DEB" "$T/x/DEBIAN"
check "the packaged unit starts /usr/bin/sandtraild" \
	grep -q '^ExecStart=/usr/bin/sandtraild ' "$T/x/lib/systemd/system/sandtraild.service"
check "Depends: the shared libraries found (libbpf1) and adduser" \
	bash -c 'f=$(dpkg-deb -f "$1" Depends) && grep -q "libbpf1" <<<"$f" && grep -q "adduser" <<<"$f"' _ "$DEB"

check "LICENSE is the Apache License 2.0, word for word (Debian's common-licenses copy)" \
	cmp -s "$TOP/LICENSE" /usr/share/common-licenses/Apache-2.0
# DEP-5: paragraphs; the header says the format; Files: * is Apache-2.0;
# every licence a header or Files paragraph names has a paragraph of its own
# with its text (or where Debian keeps it)
check "the package's copyright is machine-readable (DEP-5): Files: * under Apache-2.0, every licence named has its paragraph" \
	awk 'BEGIN { RS = ""; FS = "\n" }
	NR == 1 && $1 != "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" { bad = 1 }
	{ files = ""; lic = ""
	  for (i = 1; i <= NF; i++) { if ($i ~ /^Files: /) files = substr($i, 8); if ($i ~ /^License: /) lic = substr($i, 10) }
	  if (files == "*" && lic != "Apache-2.0") bad = 1
	  if (files == "" && NR > 1 && lic != "" && NF > 1) { text[lic] = 1; next }
	  if (files == "*") star = 1
	  n = split(lic, names, / (and|or) /); for (k = 1; k <= n; k++) if (names[k] != "") named[names[k]] = 1 }
	END { if (bad || !star) exit 1; for (l in named) if (!(l in text)) exit 1 }' "$T/x/usr/share/doc/sandtrail/copyright" ||
	diag "$(head -12 "$T/x/usr/share/doc/sandtrail/copyright")"

lintian --fail-on error,warning "$DEB" >"$T/lintian.out" 2>&1
rc=$?
check "lintian: no error, no warning" \
	bash -c '[ $1 -eq 0 ] && ! grep -q "^[EW]: " "$2"' _ "$rc" "$T/lintian.out" || diag "$(head -5 "$T/lintian.out")"

# the maintainer scripts with every command they run replaced by a logger;
# getent answers "no such group" at install, "there is one" at purge
STUBS=$T/stubs
mkdir -p "$STUBS"
for c in getent addgroup delgroup install rm rmdir deb-systemd-helper deb-systemd-invoke systemctl; do
	printf '#!/bin/sh\necho "%s $*" >>"%s"\n%s\n' "$c" "$T/calls" \
		"$([ $c = getent ] && echo '[ "$GETENT_FOUND" = 1 ]' || echo 'exit 0')" >"$STUBS/$c"
	chmod +x "$STUBS/$c"
done
PATH=$STUBS:$PATH GETENT_FOUND=0 sh "$T/x/DEBIAN/postinst" configure >"$T/postinst.out" 2>&1
check "postinst configure: creates the sandtrail group and the state directories, enables the unit" \
	bash -c 'grep -qx "addgroup --system --quiet sandtrail" "$1" && grep -qx "install -d -m 0700 /var/lib/sandtrail" "$1" &&
		grep -qx "install -d -m 0755 /etc/sandtrail" "$1" && grep -qx "deb-systemd-helper enable sandtraild.service" "$1"' _ "$T/calls" ||
	diag "$(cat "$T/calls" "$T/postinst.out")"
: >"$T/calls"
PATH=$STUBS:$PATH GETENT_FOUND=1 sh "$T/x/DEBIAN/postrm" purge >"$T/postrm.out" 2>&1
check "postrm purge: removes the key, the state and the group, never the journal" \
	bash -c 'grep -qx "rm -rf /etc/sandtrail /var/lib/sandtrail/state" "$1" && grep -qx "delgroup --system --quiet sandtrail" "$1" &&
		! grep -E "^rm .*/var/lib/sandtrail(/journal)?( |$)" "$1"' _ "$T/calls" ||
	diag "$(cat "$T/calls" "$T/postrm.out")"
