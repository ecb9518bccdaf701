#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start: builds tracectl, makes a dev PKI, runs an agent and a workload, and traces it once.
#
# Run as root from anywhere: deploy/quickstart.sh
# TRACECTL_PORT overrides the agent's port (default 7470). Everything it starts is
# stopped when it exits; the build (build/) and the dev PKI (build/pki) are kept.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
port="${TRACECTL_PORT:-7470}"
build="$root/build"
pki="$build/pki"
agent_pid=""
server_pid=""
client_pid=""
rundir=""

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

cleanup() {
	local pid
	set +e
	for pid in "$client_pid" "$server_pid" "$agent_pid"; do
		[[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "$client_pid" "$server_pid" "$agent_pid"; do
		[[ -z "$pid" ]] && continue
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
	[[ -n "$rundir" ]] && rm -rf "$rundir"
	exec 3>&- 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) -eq 0 ]] || die "run me as root: the agent loads BPF programs (the CLI will run as 'nobody')"
[[ "$port" =~ ^[0-9]+$ && "$port" -ge 1 && "$port" -le 65535 ]] || die "TRACECTL_PORT='$port' is not a port"

packages=(libbpf-dev libelf-dev zlib1g-dev liblzma-dev libprotobuf-c-dev protobuf-c-compiler libevent-dev libssl-dev
	clang llvm bpftool libclang-rt-14-dev libcmocka-dev cmake pkg-config make gcc
	python3 util-linux mount iproute2 openssl ca-certificates time)
missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	say "Installing missing packages: ${missing[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
else
	say "All build packages are installed"
fi

say "Building in $build (RelWithDebInfo)"
[[ -f "$build/CMakeCache.txt" ]] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j2
agent_bin="$build/agent/tracectl-agent"
cli_bin="$build/cli/tracectl"
server_bin="$build/tests/tools/latency_server"
client_bin="$build/tests/tools/latency_client"
for b in "$agent_bin" "$cli_bin" "$server_bin" "$client_bin"; do
	[[ -x "$b" ]] || die "build did not produce $b"
done

if [[ -f "$pki/ca.pem" ]]; then
	say "Using the dev PKI in $pki"
else
	say "Making a dev PKI in $pki"
	"$root/deploy/dev-pki.sh" "$pki"
fi

# The CLI runs unprivileged: give it a copy of its binary and credentials that user
# nobody can read, without making the PKI's keys world-readable.
rundir="$(mktemp -d /tmp/tracectl-quickstart.XXXXXX)"
chmod 0755 "$rundir"
install -m 0755 "$cli_bin" "$rundir/tracectl"
install -m 0644 "$pki/ca.pem" "$pki/client.pem" "$rundir/"
install -m 0600 -o nobody "$pki/client.key" "$rundir/client.key"

say "Starting tracectl-agent on 127.0.0.1:$port (log: $build/quickstart-agent.log)"
"$agent_bin" --listen "127.0.0.1:$port" --cert "$pki/agent.pem" --key "$pki/agent.key" --ca "$pki/ca.pem" \
	</dev/null >"$build/quickstart-agent.log" 2>&1 &
agent_pid=$!
for i in $(seq 100); do
	kill -0 "$agent_pid" 2>/dev/null || { cat "$build/quickstart-agent.log" >&2; die "the agent exited at startup"; }
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		break
	fi
	[[ $i -eq 100 ]] && die "the agent does not accept on 127.0.0.1:$port after 10s"
	sleep 0.1
done
echo "agent pid $agent_pid is listening"

say "Starting the workload: latency_server (answers after 10 ms) and latency_client (300 requests)"
coproc SERVER { exec "$server_bin" --listen 127.0.0.1:0 --delay-ms 10 --max-seconds 60; }
server_pid=$SERVER_PID
read -r -t 10 word server_port <&"${SERVER[0]}" || die "latency_server did not start"
[[ "$word" == listening ]] || die "latency_server said '$word $server_port'"
echo "latency_server pid $server_pid on 127.0.0.1:$server_port"
# The client waits for "go" on its stdin (a FIFO) so tracing starts first.
mkfifo "$rundir/go"
"$client_bin" --connect "127.0.0.1:$server_port" --wait-go --requests 300 --timeout-seconds 60 \
	<"$rundir/go" >"$rundir/client.out" &
client_pid=$!
exec 3>"$rundir/go" # opening the FIFO's write end lets the client start reading
for _ in $(seq 100); do
	grep -q '^ready ' "$rundir/client.out" 2>/dev/null && break
	sleep 0.1
done
grep -q '^ready ' "$rundir/client.out" || die "latency_client did not get ready"
echo "latency_client pid $client_pid is connected and waits for go"

say "Tracing: tracectl attach localhost:$port tcp-latency --duration 5s --interval 1s --pid $client_pid (as user nobody)"
setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	"$rundir/tracectl" --ca "$rundir/ca.pem" --cert "$rundir/client.pem" --key "$rundir/client.key" \
	attach "localhost:$port" tcp-latency --duration 5s --interval 1s --pid "$client_pid" &
cli_pid=$!
sleep 1 # let the probe attach before the workload starts
echo go >&3
echo "(sent go to the client: 300 requests of ~10 ms each)"
cli_status=0
wait "$cli_pid" || cli_status=$?

say "Stopping the workload and the agent"
wait "$client_pid" 2>/dev/null && client_pid=""
cat "$rundir/client.out"
if [[ $cli_status -ne 0 ]]; then
	echo "tracectl exited with status $cli_status; agent log: $build/quickstart-agent.log" >&2
	exit "$cli_status"
fi
say "Done. Next: read README.md for fleets, gates and JSON output."
