# Sourced by tests/demo.sh and tests/integration/test_deb_lifecycle.sh: the
# demo's agent session, run by whichever sandtrail and collector the caller
# gives.  demo_session CLI WORKLOAD DIR: a local service the policy allows
# (st_workload listen; its pid in DEMO_LISTENER, for the caller to stop),
# the workspace DIR/ws, and the agent's script run in a hardened session
# whose id goes to DIR/id.  The agent's token is DEMO_SECRET: the records
# must never hold it.
DEMO_SECRET=s3cr3t-demo-value
DEMO_LISTENER=

demo_session() {
	local cli=$1 workload=$2 d=$3 port
	"$workload" listen >"$d/port" &
	DEMO_LISTENER=$!
	for _ in $(seq 50); do [ -s "$d/port" ] && break; sleep 0.1; done
	port=$(cat "$d/port")

	# the workspace the agent may change, and its task
	mkdir -m 755 "$d/ws"
	chown 65534:65534 "$d/ws" # the agent works as the workspace owner, never as root
	printf 'def add(a, b):\n    return a + b\n' >"$d/ws/calc.py"
	cat >"$d/ws/agent.sh" <<'AGENT'
cat calc.py                                   # read the workspace
printf 'def test_add():\n    assert add(1, 2) == 3\n' > test_calc.py
grep -c def calc.py test_calc.py              # run a tool
mv test_calc.py test_add.py && rm test_add.py # tidy up
echo "token is $DEMO_TOKEN" > notes.txt       # a secret: redacted in the records
exec 3<>/dev/tcp/127.0.0.1/$PORT && echo "allowed: 127.0.0.1:$PORT"
exec 4<>/dev/tcp/169.254.169.254/80 || echo "denied: the metadata address"
echo owned > /etc/sandtrail-demo || echo "refused: writing outside the workspace"
AGENT

	echo "== sandtrail run --mode hardened -- sh agent.sh"
	DEMO_TOKEN=$DEMO_SECRET "$cli" run --mode hardened --label demo=agent \
		-v "$d/ws:/tmp/ws" -w /tmp/ws -e PORT="$port" --secret DEMO_TOKEN \
		--network allowlist --allow "127.0.0.1:$port" --memory 256m --pids-limit 64 --timeout 30s \
		--id-file "$d/id" -- /bin/bash agent.sh || true
}
