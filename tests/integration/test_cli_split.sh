#!/usr/bin/env bash
# `sandtrail run` starts every session: the binary loads none of the
# journal's libraries (zlib, libdeflate, msgpack, libcrypto), which only
# replay, verify and keygen use; those run from sandtrail-journal beside it,
# linked to Debian's shared libraries like the rest.
source "$(dirname "$0")/lib.sh"
plan 5

journal_libs='lib(crypto|z|deflate|msgpackc)\.so'
check "sandtrail needs none of the journal's libraries" lacks "$journal_libs" readelf -d "$SANDTRAIL"
LD_DEBUG=files "$SANDTRAIL" run --help >/dev/null 2>"$T/ld"
check "sandtrail run loads none of them (ld.so's own account)" lacks "file=$journal_libs" cat "$T/ld"
"$SANDTRAIL" replay --help >"$T/replay.help" 2>&1
check "sandtrail replay still answers, from sandtrail-journal" grep -q '^usage: sandtrail replay' "$T/replay.help"
check "sandtrail-journal links libcrypto as Debian ships it (shared)" \
	grep -q 'NEEDED.*libcrypto\.so' <(readelf -d "$BIN/sandtrail-journal")
mkdir "$T/alone" && cp "$SANDTRAIL" "$T/alone/"
"$T/alone/sandtrail" verify --help >"$T/alone.out" 2>&1
rc=$?
check "without sandtrail-journal beside it, verify says so (exit $rc)" \
	test $rc -eq 2 -a "$(grep -c 'sandtrail-journal' "$T/alone.out")" -ge 1
