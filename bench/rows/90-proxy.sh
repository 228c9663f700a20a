# The domain proxy against Squid (Debian's), same machine, same run, the
# same allowlist (the three registry names), inside the proxy fixture's
# network namespace (tests/integration/helpers/proxy_fixture.sh: dnsmasq,
# the HTTPS origin).  Connections alternate between the two proxies one by
# one (the other tenants of a shared machine come and go in bursts of
# seconds: a burst must tax both proxies' tails alike, not whichever ran a
# batch then); downloads alternate round by round, each round in the other
# order; all connections run before the downloads.
#   - connection setup: bench/proxy_connect, one connection at a time, from
#     connect() to the proxy until the TLS handshake with the origin through
#     the CONNECT tunnel is done (a proxy may say 200 before it connects
#     upstream: sandtrail-proxy reads the SNI first); p50 and p99 over every
#     connection of every round
#   - throughput: one 1 GiB HTTPS download through the proxy (curl, the
#     fixture's CA), median of the rounds; the same download without a
#     proxy is the ceiling the origin and curl allow here
source "$TOP/tests/integration/helpers/proxy_fixture.sh"

PROXY_BIN=$BIN/sandtrail-proxy
SQUID_PORT=3128
STPROXY_PORT=3129

# pct P: the P-th percentile of the numbers on stdin (nearest rank)
pct() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else { i = int((p * NR + 99) / 100); print v[i < 1 ? 1 : i] } }'; }

# squid_start: Squid on 127.0.0.1:$SQUID_PORT in the namespace, no cache,
# the registry names allowed; its files in a directory its user owns
SQUID_PID=
squid_start() {
	local d
	d=$(mktemp -d /tmp/sandtrail-bench-squid.XXXXXX) || return 1
	defer "rm -rf '$d'"
	chown proxy: "$d"
	cat >"$d/squid.conf" <<-EOF
		http_port 127.0.0.1:$SQUID_PORT
		acl registries dstdomain ${PF_NAMES[*]}
		acl SSL_ports port 443
		acl CONNECT method CONNECT
		http_access deny CONNECT !SSL_ports
		http_access allow registries
		http_access deny all
		dns_nameservers $PF_DNS
		cache deny all
		cache_mem 8 MB
		access_log none
		cache_log $d/cache.log
		pid_filename $d/squid.pid
		coredump_dir $d
		cache_effective_user proxy
		shutdown_lifetime 0 seconds
		pinger_enable off
	EOF
	pf_run squid -N -f "$d/squid.conf" 2>"$B/squid.err" &
	SQUID_PID=$!
	_pf_until 20 pf_run curl -sf -o /dev/null -x "127.0.0.1:$SQUID_PORT" --cacert "$(pf_ca)" \
		"https://${PF_NAMES[0]}/" || { log "squid did not start: $(tail -n 3 "$d/cache.log" "$B/squid.err")"; return 1; }
}

# sandtrail-proxy in its standalone mode (sandtrail-proxy(8)), the same names
STPROXY_PID=
stproxy_start() {
	local a=()
	for n in "${PF_NAMES[@]}"; do a+=(--allow-domain "$n"); done
	pf_run "$PROXY_BIN" --listen "127.0.0.1:$STPROXY_PORT" --dns "$PF_DNS" --records /dev/null "${a[@]}" \
		2>"$B/stproxy.err" &
	STPROXY_PID=$!
	_pf_until 20 pf_run curl -sf -o /dev/null -x "127.0.0.1:$STPROXY_PORT" --cacert "$(pf_ca)" \
		"https://${PF_NAMES[0]}/" || { log "sandtrail-proxy did not start: $(tail -n 3 "$B/stproxy.err")"; return 1; }
}

# download VIA: bytes/s of one 1 GiB download (VIA: -x ADDR:PORT, or nothing)
download() {
	pf_run curl -sS --fail --max-time 300 --cacert "$(pf_ca)" "$@" -o /dev/null -w '%{speed_download}\n' \
		"https://${PF_NAMES[0]}/bytes/$((1 << 30))"
}

port_of() { if [ "$1" = sandtrail ]; then echo "$STPROXY_PORT"; else echo "$SQUID_PORT"; fi; }
# order R V...: the variants in their order for an even round R, reversed for an odd one
order() {
	local r=$1
	shift
	if ((r % 2)); then printf '%s\n' "$@" | tac; else printf '%s\n' "$@"; fi
}

section_proxy() {
	local rounds count r k v variants=(squid) s50 s99 t50 t99 sq st direct note
	rounds=$(quick 6 1) # even: each proxy downloads first as often
	count=$(quick 1500 50)
	log "== domain proxy vs Squid: $count CONNECTs and $rounds 1 GiB downloads each, alternating"
	proxy_fixture_up || { row proxy "domain proxy vs Squid" "failed" "-" error "" "the proxy fixture did not come up"; return 1; }
	squid_start || { row proxy "domain proxy vs Squid" "failed" "-" error "" "squid did not start"; return 1; }
	defer "stop_pid $SQUID_PID"
	if [ -x "$PROXY_BIN" ]; then
		stproxy_start || { row proxy "domain proxy vs Squid" "failed" "-" error "" "sandtrail-proxy did not start"; return 1; }
		defer "stop_pid $STPROXY_PID"
		variants+=(sandtrail)
	fi
	# the connections first, then the downloads: connections that ran right
	# after a 1 GiB download (the CPU it starved others of is paid back
	# then) were slower, whichever proxy they measured
	# shellcheck disable=SC2046 # one argument per proxy
	pf_run "$BIN/bench/proxy_connect" "${PF_NAMES[0]}:443" "$(pf_ca)" "$count" \
		$(for v in "${variants[@]}"; do echo "127.0.0.1:$(port_of "$v")"; done) >"$B/proxy.connect" 2>"$B/proxy.connect.err" ||
		{ row proxy "domain proxy vs Squid" "failed" "-" error "" "a CONNECT failed: $(tail -n 1 "$B/proxy.connect.err")"; return 1; }
	for k in "${!variants[@]}"; do
		awk -v k="$k" '$1 == k { print $2 }' "$B/proxy.connect" >"$B/proxy.${variants[k]}.connect"
	done
	for ((r = 0; r < rounds; r++)); do
		for v in $(order "$r" "${variants[@]}"); do
			download -x "127.0.0.1:$(port_of "$v")" >>"$B/proxy.$v.bytes" ||
				{ row proxy "domain proxy vs Squid" "failed" "-" error "" "$v: the download failed"; return 1; }
		done
		download >>"$B/proxy.direct.bytes" || { row proxy "domain proxy vs Squid" "failed" "-" error "" "the direct download failed"; return 1; }
	done
	s50=$(pct 50 <"$B/proxy.squid.connect")
	s99=$(pct 99 <"$B/proxy.squid.connect")
	sq=$(median <"$B/proxy.squid.bytes")
	direct=$(median <"$B/proxy.direct.bytes")
	note="$count connections through each, alternating one by one, then $rounds downloads each, alternating round by round (bench/proxy_connect: CONNECT ${PF_NAMES[0]}:443, resolved by the proxy through dnsmasq, then a verified TLS 1.3 handshake with the origin through it); Squid $(squid -v | awk 'NR == 1 { print $4 }'), no cache, the same three names allowed; the origin is Python (tests/integration/helpers/proxy_origin.py) on the same 2 CPUs"
	if [ -x "$PROXY_BIN" ]; then
		t50=$(pct 50 <"$B/proxy.sandtrail.connect")
		t99=$(pct 99 <"$B/proxy.sandtrail.connect")
		st=$(median <"$B/proxy.sandtrail.bytes")
		row proxy-connect "proxy: connection setup, CONNECT to TLS done" \
			"$(printf 'p50 %d us p99 %d us (squid %d / %d)' "$t50" "$t99" "$s50" "$s99")" "<= squid p50 and p99" \
			"$(verdict "$t50 <= $s50 && $t99 <= $s99")" \
			"sudo make bench BENCH_ROWS=proxy" "$note" \
			"$(jq -nc --argjson a "$t50" --argjson b "$t99" --argjson c "$s50" --argjson d "$s99" --argjson n "$count" \
				'{p50_us: $a, p99_us: $b, squid_p50_us: $c, squid_p99_us: $d, connections: $n}')"
		row proxy-throughput "proxy: one 1 GiB HTTPS download through the proxy" \
			"$(printf '%.0f MB/s (squid %.0f, %s; no proxy %.0f)' "$(calc "$st / 1e6")" "$(calc "$sq / 1e6")" \
				"$(ratio_fmt "$(calc "$st / $sq")")" "$(calc "$direct / 1e6")")" ">= squid" \
			"$(verdict "$st >= $sq")" "sudo make bench BENCH_ROWS=proxy" "$note" \
			"$(jq -nc --argjson a "$st" --argjson b "$sq" --argjson c "$direct" \
				'{bytes_per_s: $a, squid_bytes_per_s: $b, direct_bytes_per_s: $c}')"
	else
		row proxy-connect "proxy: connection setup, CONNECT to TLS done" \
			"$(printf 'squid p50 %d us p99 %d us' "$s50" "$s99")" "<= squid p50 and p99" skipped \
			"sudo make bench BENCH_ROWS=proxy" "$PROXY_BIN is not built: Squid's side measured alone; $note" \
			"$(jq -nc --argjson c "$s50" --argjson d "$s99" '{squid_p50_us: $c, squid_p99_us: $d}')"
		row proxy-throughput "proxy: one 1 GiB HTTPS download through the proxy" \
			"$(printf 'squid %.0f MB/s (no proxy %.0f)' "$(calc "$sq / 1e6")" "$(calc "$direct / 1e6")")" ">= squid" skipped \
			"sudo make bench BENCH_ROWS=proxy" "$PROXY_BIN is not built: Squid's side measured alone; $note" \
			"$(jq -nc --argjson b "$sq" --argjson c "$direct" '{squid_bytes_per_s: $b, direct_bytes_per_s: $c}')"
	fi
}
