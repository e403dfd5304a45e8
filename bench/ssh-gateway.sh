#!/usr/bin/env bash
# Measures the SSH gateway beside OpenSSH's sshd in the same run, on loopback:
#   1. latency of one `ssh host ls` (a new connection each time; RUNS of them, default 200),
#   2. sessions per second with CLIENTS concurrent clients (default 8) for SECONDS (default 20),
#   3. throughput of BYTES (default 1 GiB) through a `ssh -W` channel: to a sink in a guest
#      through the gateway, and to a sink on loopback through sshd.
# sshd runs privately (its own config, host key and port) with ForceCommand true, so its
# sessions run /bin/true, as a user of its own whose shell is /bin/sh: root's shell may read
# a slow ~/.bashrc (bash does for commands from sshd). Both servers use curve25519-sha256 and
# ssh-ed25519 keys.
# Starts its own particled (state dir, ports and network namespace of its own), needs root, the
# debian-12 image (PARTICLE_IMAGES, default /var/cache/particle-test, as ./test builds it) and a
# release build, and appends the results with the machine and command to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-200}"
clients="${CLIENTS:-8}"
seconds="${SECONDS_PER_RUN:-20}"
bytes="${BYTES:-1073741824}"
images="${PARTICLE_IMAGES:-/var/cache/particle-test}"
particled="${PARTICLED:-.build/release/particled}"
work=$(mktemp -d /tmp/particle-bench-XXXXXX)
netns="ptbench$$"
gateway_port=2723
sshd_port=2724
sink_port=2725

bench_user="particle-bench$$"
cleanup() {
    userdel "$bench_user" 2>/dev/null || true
    for pid in ${daemon:-} ${sshd:-} ${sink:-}; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pkill -9 -f "qemu-system.*$work" 2>/dev/null || true
    ip netns delete "$netns" 2>/dev/null || true
    [ -n "${KEEP_LOG:-}" ] && cp "$work/sshd.log" "$KEEP_LOG"
    rm -rf "$work"
}
trap cleanup EXIT

[ -x "$particled" ] || { echo "error: $particled is missing; run: swift build -c release" >&2; exit 1; }
ls "$images"/images/debian-12-*/image.json > /dev/null 2>&1 || {
    echo "error: no debian-12 image in $images; run ./test once or particled build-image" >&2; exit 1; }
command -v /usr/sbin/sshd > /dev/null || { echo "error: /usr/sbin/sshd is missing; install openssh-server" >&2; exit 1; }

load_before=$(cut -d' ' -f1 /proc/loadavg)
mkdir -p "$work/state"
ln -s "$images/images" "$work/state/images"
ssh-keygen -q -t ed25519 -N "" -f "$work/key"

# The gateway, with limits high enough not to throttle the benchmark's own clients.
cat > "$work/config.json" <<EOF
{"ssh_commands_per_minute": 10000000, "ssh_sessions_per_key": 1000, "ssh_connections_per_address": 1000}
EOF
"$particled" run --config "$work/config.json" --state-dir "$work/state" --ssh-port $gateway_port \
    --http-port 0 --api-port 0 --netns "$netns" --subnet 10.235.0.0/24 > "$work/particled.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do grep -q "service=ssh" "$work/particled.log" && break; sleep 0.1; done

# A private sshd on loopback, running `true` for every session of a user made for this run.
# The password "*" matches none and, unlike useradd's default "!", does not lock the account.
useradd --no-create-home --home-dir "$work/user" --shell /bin/sh --password "*" "$bench_user"
ssh-keygen -q -t ed25519 -N "" -f "$work/sshd_host_key"
# sshd reads the keys as the user, so they sit in a folder the user can read.
mkdir -m 755 "$work/user"
chmod 711 "$work"
install -m 644 "$work/key.pub" "$work/user/authorized_keys"
cat > "$work/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $sshd_port
HostKey $work/sshd_host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/user/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
KexAlgorithms curve25519-sha256
HostKeyAlgorithms ssh-ed25519
ForceCommand true
AllowTcpForwarding yes
MaxStartups 100:30:200
MaxSessions 100
EOF
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2> "$work/sshd.log" &
sshd=$!
sleep 0.5

client_options=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o LogLevel=ERROR -o BatchMode=yes -o IdentitiesOnly=yes -o KexAlgorithms=curve25519-sha256
    -o HostKeyAlgorithms=ssh-ed25519 -i "$work/key")
gateway() { ssh "${client_options[@]}" -p $gateway_port 127.0.0.1 "$@"; }
sshd_() { ssh "${client_options[@]}" -p $sshd_port "$bench_user@127.0.0.1" "$@"; }
gateway ls > /dev/null
sshd_ ls > /dev/null

# Prints "median p99" in milliseconds of RUNS sequential runs of the given function.
latency() {
    local samples=()
    for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s%N)
        "$@" ls > /dev/null
        end=$(date +%s%N)
        samples+=($(( (end - start) / 1000 )))
    done
    python3 - "${samples[@]}" <<'PY'
import statistics, sys
values = sorted(int(v) / 1000 for v in sys.argv[1:])
p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
print(f"{statistics.median(values):.1f} {p99:.1f}")
PY
}

# Prints sessions per second of CLIENTS loops of the given function for SECONDS.
rate() {
    local deadline=$(( $(date +%s) + seconds ))
    for client in $(seq "$clients"); do
        ( count=0; while [ "$(date +%s)" -lt "$deadline" ]; do "$@" ls > /dev/null; count=$((count + 1)); done
          echo "$count" > "$work/rate-$client" ) &
    done
    wait  # rate runs in a command substitution, so this waits only for its own clients
    cat "$work"/rate-* | python3 -c "import sys; print(f'{sum(int(l) for l in sys.stdin) / $seconds:.1f}')"
    rm -f "$work"/rate-*
}

echo "latency of ssh host ls, $runs runs each..."
read -r gateway_median gateway_p99 <<< "$(latency gateway)"
read -r sshd_median sshd_p99 <<< "$(latency sshd_)"
echo "gateway: median $gateway_median ms, p99 $gateway_p99 ms; sshd: median $sshd_median ms, p99 $sshd_p99 ms"

echo "sessions per second with $clients clients for $seconds s each..."
gateway_rate=$(rate gateway)
sshd_rate=$(rate sshd_)
echo "gateway: $gateway_rate/s; sshd: $sshd_rate/s"

echo "throughput of $bytes bytes through ssh -W..."
gateway create web > /dev/null
# A sink that reads and drops everything: in the guest through the gateway, and on loopback.
cat > "$work/sink.py" <<'PY'
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(1)
while True:
    connection, _ = server.accept()
    while connection.recv(1 << 20):
        pass
    connection.close()
PY
ssh "${client_options[@]}" -p $gateway_port web@127.0.0.1 'cat > /root/sink.py' < "$work/sink.py"
gateway exec web -- 'systemd-run python3 /root/sink.py 0.0.0.0 9000' > /dev/null
python3 "$work/sink.py" 127.0.0.1 $sink_port &
sink=$!
sleep 1
# Returns MiB/s of BYTES of zeros through the given `ssh -W` command.
throughput() {
    local start end
    start=$(date +%s%N)
    head -c "$bytes" /dev/zero | "$@" > /dev/null
    end=$(date +%s%N)
    python3 -c "print(f'{$bytes / 1048576 / (($end - $start) / 1e9):.1f}')"
}
gateway_throughput=$(throughput ssh "${client_options[@]}" -p $gateway_port -W web:9000 127.0.0.1)
sshd_throughput=$(throughput ssh "${client_options[@]}" -p $sshd_port -W 127.0.0.1:$sink_port "$bench_user@127.0.0.1")
echo "gateway to guest: $gateway_throughput MiB/s; sshd to loopback: $sshd_throughput MiB/s"

ratios=$(python3 - <<PY
print(f"latency median {$gateway_median / $sshd_median:.2f}x sshd's, p99 {$gateway_p99 / $sshd_p99:.2f}x;"
      f" sessions per second {$gateway_rate / $sshd_rate:.2f}x; throughput {$gateway_throughput / $sshd_throughput:.2f}x")
PY
)
echo "$ratios"

accelerator=$(grep -o 'accelerator [a-z]*' "$work/particled.log" | head -1 || true)
{
    echo
    echo "## SSH gateway beside OpenSSH's sshd ($(date -u +%Y-%m-%d))"
    echo
    echo "\`RUNS=$runs CLIENTS=$clients SECONDS_PER_RUN=$seconds BYTES=$bytes bench/ssh-gateway.sh\` on"
    echo "$(nproc) vCPUs, $(free -g | awk '/Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME"),"
    echo "$(ssh -V 2>&1), libssh $(dpkg-query -W -f='${Version}' libssh-4 2>/dev/null), ${accelerator:-accelerator unknown}."
    echo "Both servers on 127.0.0.1 with curve25519-sha256 and ed25519 keys; a new connection per"
    echo "command. sshd runs \`ForceCommand true\` for a user whose shell is /bin/sh; the gateway runs"
    echo "\`ls\` (one SQLite query). Load average (1 min) at the start: $load_before; at the end:"
    echo "$(cut -d' ' -f1 /proc/loadavg)."
    echo "Throughput: zeros from \`head -c\` through \`ssh -W\`, to a Python sink in the guest (TCG)"
    echo "through the gateway, and to a Python sink on loopback through sshd."
    echo
    echo "| | gateway | sshd |"
    echo "|---|---|---|"
    echo "| \`ssh host ls\` latency, median | $gateway_median ms | $sshd_median ms |"
    echo "| \`ssh host ls\` latency, p99 | $gateway_p99 ms | $sshd_p99 ms |"
    echo "| sessions per second, $clients clients | $gateway_rate | $sshd_rate |"
    echo "| \`ssh -W\` throughput | $gateway_throughput MiB/s | $sshd_throughput MiB/s |"
    echo
    echo "Ratios (gateway / sshd): $ratios."
} >> docs/benchmarks.md
echo "appended to docs/benchmarks.md"
