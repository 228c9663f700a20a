#!/usr/bin/env bash
# The sealed journal on real files: sandtrail verify passes an intact journal,
# names the seq of each kind of tampering, survives kill -9 mid-burst, and
# answers bad input with one line and exit 2.
source "$(dirname "$0")/lib.sh"
plan 30

W=$HELPERS/journal_writer
TAMPER=$HELPERS/journal_tamper
PRISTINE=$T/pristine
WORK=$T/work

"$SANDTRAIL" keygen --out "$KEYDIR" >/dev/null 2>"$T/keygen.err"
check "keygen writes a 0600 private key and a public key" \
	test "$(stat -c %a "$KEYDIR/signing.key")" = 600 -a -s "$KEYDIR/signing.pub"
"$SANDTRAIL" keygen --out "$KEYDIR" >/dev/null 2>"$T/keygen2.err"
check "keygen refuses to overwrite a key" test $? -eq 1 -a "$(wc -l <"$T/keygen2.err")" -eq 1
PUB=$KEYDIR/signing.pub

# Small blocks, seals and segments, an epoch every 2 seals: many of each.
"$W" --journal "$PRISTINE" --key "$KEYDIR/signing.key" --count 20000 --seal-records 1000 \
	--epoch-seals 2 --segment-bytes 200000 --block-bytes 16384 >"$T/writer.out"
cp "$KEYDIR/signing.key" "$T/late.key" # the key as it is after many epochs
nseg=$(ls "$PRISTINE" | wc -l)
check "the journal has several segments (got $nseg)" test "$nseg" -ge 4
check "every rotated segment is read-only" \
	lacks . find "$PRISTINE" -name '*.stj' -perm /222

"$SANDTRAIL" verify --journal "$PRISTINE" --pubkey "$PUB" >"$T/v.out"
rc=$?
check "verify passes an intact journal" test $rc -eq 0
check "verify summary counts records, seals, epochs, sessions" \
	grep -Eq '^sandtrail verify: 20[0-9]{3} records, [0-9]+ seals, [0-9]+ epochs, 3 sessions in [0-9]+ segments: intact$' "$T/v.out"
"$SANDTRAIL" verify "$PRISTINE"/*.stj --pubkey "$PUB" >/dev/null
check "verify takes the segment files themselves" test $? -eq 0

# fresh WORK copy of the pristine journal
fresh() { rm -rf "$WORK" && cp -a "$PRISTINE" "$WORK" && chmod u+w "$WORK"/*.stj; }
# seg_of SEQ: the segment holding SEQ
seg_of() {
	local f last=
	for f in "$WORK"/*.stj; do
		[ "$((10#$(basename "$f" .stj)))" -le "$1" ] && last=$f
	done
	echo "$last"
}
# expect_fault NAME SEQ [PATTERN]: verify exits 1 and its first fault names SEQ (and PATTERN)
expect_fault() {
	local name=$1 seq=$2 pat=${3:-} rc first
	"$SANDTRAIL" verify --journal "$WORK" --pubkey "${VERIFY_PUB:-$PUB}" >"$T/v.out" 2>&1
	rc=$?
	first=$(grep -m1 '^fault:' "$T/v.out")
	if [ $rc -eq 1 ] && [[ $first == *", seq $seq: "* ]] && [[ -z $pat || $first == *$pat* ]] &&
		tail -1 "$T/v.out" | grep -q 'FAILED'; then
		ok "$name (seq $seq)"
	else
		not_ok "$name: want exit 1 and seq $seq, got exit $rc"
		diag "$(head -5 "$T/v.out")"
	fi
}

fresh
read -r off first < <("$TAMPER" locate "$(seg_of 5000)" 5000)
printf '\xff' | dd of="$(seg_of 5000)" bs=1 seek=$((off + 40)) conv=notrunc status=none
expect_fault "a flipped byte on disk is found at its block" "$first" "offset $off"

fresh
"$TAMPER" edit "$(seg_of 5000)" 5000
expect_fault "an altered record is found" 5000 "altered"

fresh
"$TAMPER" delete "$(seg_of 5000)" 5000
expect_fault "a deleted record is found" 5000 "deleted"

fresh
read -r off first < <("$TAMPER" locate "$(seg_of 5000)" 5000)
"$TAMPER" swap "$(seg_of 5000)" $((first + 1))
expect_fault "two swapped records are found" $((first + 1)) "reordered"

fresh
last=$(ls "$WORK"/*.stj | tail -1)
total=$(grep -o '^sandtrail verify: [0-9]*' <("$SANDTRAIL" verify --journal "$PRISTINE" --pubkey "$PUB") | grep -o '[0-9]*$')
read -r off first < <("$TAMPER" locate "$last" $((total - 1)))
truncate -s -7 "$last"
expect_fault "a truncated tail is found" "$first" "not a whole block"

fresh
truncate -s "$off" "$last"
"$SANDTRAIL" verify --journal "$WORK" --pubkey "$PUB" >"$T/v.out"
check "a journal cut at a block boundary is incomplete (no final seal)" \
	test $? -eq 1 -a -n "$(grep -m1 -E 'final seal|not covered by a seal' "$T/v.out")"

fresh
middle=$(ls "$WORK"/*.stj | sed -n 2p)
rm -f "$middle"
expect_fault "a removed middle segment is found" "$((10#$(basename "$middle" .stj)))" "missing"

fresh
# a segment renamed one seq down: the order of names is kept, the name lies
middle=$(ls "$WORK"/*.stj | sed -n 2p)
mseq=$((10#$(basename "$middle" .stj)))
mv "$middle" "$WORK/$(printf '%020d' $((mseq - 1))).stj"
expect_fault "a segment renamed to another seq is found" "$mseq" "renamed"

fresh
"$SANDTRAIL" keygen --out "$T/other" >/dev/null 2>&1
VERIFY_PUB=$T/other/signing.pub expect_fault "verifying with another key fails at the start" 0 "given public key"

fresh
resigned=$("$TAMPER" forge "$WORK" 1500 "$T/late.key")
expect_fault "a past epoch re-signed with a later key is found" "$resigned" "does not verify"

# ---- crash: kill -9 mid-burst, reopen, nothing sealed is lost ----
CJ=$T/crash
"$W" --journal "$CJ" --key "$KEYDIR/signing.key.crash" --create-key --count 200000000 \
	--seal-ms 20 --epoch-seals 3 --segment-bytes 4000000 >/dev/null 2>&1 &
wpid=$!
defer "kill -9 $wpid"
CPUB=$KEYDIR/signing.key.crash.pub
# killed once three segments are closed (each ends with a seal), while the
# burst goes on; a scan of a journal growing this fast would never end
segments() { [ "$(find "$CJ" -name '*.stj' | wc -l)" -ge 4 ]; }
wait_for 60 segments
check "the writer is still writing when it is killed" kill -0 $wpid
kill -9 $wpid
wait $wpid 2>/dev/null
read -r _ r0 _ s0 _ _ _ _ _ l0 _ _ _ d0 < <("$W" --scan "$CJ" --pubkey "$CPUB" --upto 0)
read -r _ _ _ _ _ _ _ _ _ _ _ _ _ dl0 < <("$W" --scan "$CJ" --pubkey "$CPUB" --upto "$l0")
diag "before reopen: $r0 records, $s0 sealed, last sealed seq $l0"
"$W" --journal "$CJ" --key "$KEYDIR/signing.key.crash" --count 1000 >/dev/null
check "reopening after kill -9 succeeds" test $? -eq 0
"$SANDTRAIL" verify --journal "$CJ" --pubkey "$CPUB" >"$T/v.out"
rc=$?
check "the recovered journal verifies" test $rc -eq 0
[ $rc -eq 0 ] || diag "$(head -5 "$T/v.out")"
read -r _ r1 _ s1 _ u1 _ b1 _ _ _ rec1 _ dl1 < <("$W" --scan "$CJ" --pubkey "$CPUB" --upto "$l0")
check "a recovery record is present" test "$rec1" -ge 1
check "no record sealed before the crash was lost or changed" test "$s0" -gt 1000 -a "$dl1" = "$dl0"
check "every record is sealed after the clean close" test "$u1" -eq 0 -a "$b1" -eq 0 -a "$s1" -eq "$r1"

# ---- bad input: one line, exit 2 ----
bad_input() {
	local name=$1
	shift
	"$SANDTRAIL" verify "$@" >"$T/b.out" 2>"$T/b.err"
	local rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$T/b.err")" -eq 1 ] && [ ! -s "$T/b.out" ]; then
		ok "$name"
	else
		not_ok "$name: exit $rc"
		diag "$(cat "$T/b.err")"
	fi
}
bad_input "verify of a missing journal directory" --journal "$T/nope" --pubkey "$PUB"
bad_input "verify of a missing segment file" "$T/nope.stj" --pubkey "$PUB"
bad_input "verify of a directory given as a file" "$T" --pubkey "$PUB"
bad_input "verify with a missing public key" --journal "$PRISTINE" --pubkey "$T/nope.pub"
echo "not a key" >"$T/bad.pub"
bad_input "verify with a public key file of the wrong format" --journal "$PRISTINE" --pubkey "$T/bad.pub"
bad_input "verify with the private key as public key" --journal "$PRISTINE" --pubkey "$KEYDIR/signing.key"
"$SANDTRAIL" verify --journal "$PRISTINE" >/dev/null 2>&1
check "verify without --pubkey is a usage error" test $? -eq 2
