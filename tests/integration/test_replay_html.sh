#!/usr/bin/env bash
# sandtrail replay --format html: one self-contained page for a recorded
# session, opened in Debian's headless Chromium: the process tree and the
# timeline are drawn (DOM and screenshot), a path holding <script> renders as
# text and runs nothing, and loading the page makes no network request (a
# proxy every request would go through counts none).
source "$(dirname "$0")/lib.sh"
plan 18

start_daemon || { not_ok "sandtraild starts"; exit 1; }
WS=$T/ws
mkdir -p "$WS"
chown 4242:4242 "$WS"
PAGE=$T/incident.html
EVIL='<script>document.title="pwned"</script>'
"$SANDTRAIL" run --id-file "$T/id" "${HV[@]}" -v "$WS:/work" -w /work --network allowlist --allow 127.0.0.1:9 -- \
	sh -c "echo x > '$EVIL'; mkdir d; cat /etc/hostname >/dev/null; (true); python3 -c 'import socket; socket.socket().connect((\"127.0.0.2\", 80))'" 2>"$T/run.err"
SID=$(cat "$T/id")
replay_json "$SID" >"$T/records.json"
html() { "$SANDTRAIL" replay --journal "$JOURNAL" --pubkey "$KEYDIR/signing.pub" --session "$SID" --format html "$@"; }

html >"$PAGE" 2>"$T/html.err"
check "html: exit 0" test $? -eq 0 || diag "$(cat "$T/html.err")"
check "... one page, its closing tag last" test "$(tail -n 1 "$PAGE")" = "</body></html>"
check "... no raw <script> from the record, its text escaped" \
	bash -c '! grep -qF "<script>document" "$1" && grep -qF "&lt;script&gt;document" "$1"' _ "$PAGE"
check "... nothing loaded from elsewhere (no src=, href=, url(, @import)" \
	bash -c '! grep -Eiq "(src|href)=|url\(|@import" "$1"' _ "$PAGE"
check "... a Content-Security-Policy that forbids every fetch" \
	grep -qF "content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\"" "$PAGE"
rows=$(grep -c '^<tr class=' "$PAGE")
check "... one timeline row per record but session_start (header)" \
	test "$rows" -eq $(($(wc -l <"$T/records.json") - 1)) || diag "rows $rows, records $(wc -l <"$T/records.json")"
check "... the denied connect highlighted" grep -q '^<tr class="deny sealed" data-type="connect"' "$PAGE"
check "... every record verified" grep -q 'All [0-9]* records are sealed and verified' "$PAGE"

# ---- in a real browser ----
# A proxy that counts connections: with it as the browser's proxy for every
# scheme, any request the page made would reach it.
python3 -c 'import socket,sys
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c,_=s.accept(); c.settimeout(2)
    try: line=c.recv(4096).split(b"\\r\\n")[0]
    except OSError: line=b"?"
    print("request", line.decode("ascii","replace"), flush=True); c.close()' >"$T/proxy.out" 2>&1 &
defer "kill $!"
wait_for 20 grep -q '^[0-9]' "$T/proxy.out"
PROXY=$(head -n 1 "$T/proxy.out")
chrome() {
	local page=$1
	shift
	timeout -k 5 120 chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --no-pings \
		--disable-domain-reliability --disable-client-side-phishing-detection --disable-default-apps \
		--disable-extensions --safebrowsing-disable-auto-update --disable-breakpad \
		--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater,PrivacySandboxSettings4 \
		--user-data-dir="$T/chrome" --proxy-server="http://127.0.0.1:$PROXY" --proxy-bypass-list='<-loopback>' \
		--virtual-time-budget=3000 "$@" "file://$page" 2>>"$T/chrome.err"
}
chrome "$PAGE" --dump-dom >"$T/dom.html"
check "chromium renders the page" grep -q '<section id="timeline">' "$T/dom.html" || diag "$(tail -5 "$T/chrome.err")"
check "... the record's <script> stayed text: it did not run (the title is unchanged)" \
	grep -q "<title>sandtrail replay</title>" "$T/dom.html"
check "... the process tree lists the session's processes" \
	test "$(grep -c '<li class="proc"' "$T/dom.html")" -ge 3
check "... the tree shows what each ran" grep -q 'exec /usr/bin/mkdir mkdir d\|exec /bin/mkdir mkdir d' "$T/dom.html"
check "... the filter offers the record types present" grep -q 'type="checkbox" checked="" value="connect"' "$T/dom.html"
chrome "$PAGE" --screenshot="$T/shot.png" --window-size=1200,900 >/dev/null
check "a screenshot of the page is taken" test -s "$T/shot.png"
check "... and is not blank (many colours drawn)" python3 -c '
import sys, zlib, struct
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", d[16:24])
idat = b"".join(d[i+8:i+8+struct.unpack(">I", d[i:i+4])[0]] for i in range(8, len(d)) if d[i+4:i+8] == b"IDAT")
raw = zlib.decompress(idat)
sys.exit(0 if len(set(raw[j:j+3] for j in range(0, len(raw), 97))) > 20 else 1)' "$T/shot.png"
# Chromium's own services (its updater, sign-in) call out whatever flags
# say; the page's requests are any other.  A page that does load something
# shows that such a request reaches the proxy.
page_requests() { grep '^request' "$T/proxy.out" | grep -Ev ' (https?://)?(update\.googleapis\.com|accounts\.google\.com|clients2\.google\.com)[:/]'; }
check "loading the page made no network request" test -z "$(page_requests)" || diag "$(page_requests)"
echo '<img src="http://sandtrail-html-probe.invalid/x.png">' >"$T/control.html"
chrome "$T/control.html" --dump-dom >/dev/null
check "... (a page that loads an image is seen doing so)" bash -c 'grep -q "sandtrail-html-probe.invalid" "$1"' _ "$T/proxy.out"

# ---- errors ----
"$SANDTRAIL" replay --journal "$JOURNAL" --format html >"$T/out" 2>"$T/err"
rc=$?
check "--format html without --session: status 2, one line naming the need, no page" \
	bash -c '[ "$1" -eq 2 ] && [ "$(wc -l <"$2")" -eq 1 ] && grep -q "format html: needs --session" "$2" && [ ! -s "$3" ]' \
	_ $rc "$T/err" "$T/out"
