#!/usr/bin/env bash
# Measures wake latency as a user sees it: an HTTP request to a sleeping particle until the first
# byte of its answer, over RUNS wakes (default 20), through Particle's proxy. Beside it, in the
# same run, the ceiling: bare QEMU resuming the same guest from a plain migration file (the
# whole RAM in the stream, no proxy, no Particle), timed from QEMU's start to the first byte of
# the same request made inside the network namespace.
# Starts its own particled (state dir, ports and network namespace of its own); needs root and
# the debian-12 image (PARTICLE_IMAGES, default /var/cache/particle-test, as ./test builds it).
# Appends the results with the machine and command to docs/benchmarks.md (NO_RECORD=1: does
# not). KEEP_LOG=FILE keeps particled's log there.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-20}"
images="${PARTICLE_IMAGES:-/var/cache/particle-test}"
particled="${PARTICLED:-.build/release/particled}"
work=$(mktemp -d /tmp/particle-bench-XXXXXX)
netns="ptwake$$"
ssh_port=2723
http_port=8783

cleanup() {
    [ -n "${KEEP_LOG:-}" ] && cp "$work/particled.log" "$KEEP_LOG" 2>/dev/null
    [ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    pkill -9 -f "qemu-system.*$work" 2>/dev/null || true
    ip netns delete "$netns" 2>/dev/null || true
    umount "/dev/shm/particle-bench-$$" 2>/dev/null || true
    rm -rf "$work" "/dev/shm/particle-bench-$$"
}
trap cleanup EXIT

[ -x "$particled" ] || { echo "error: $particled is missing; run: swift build -c release" >&2; exit 1; }
ls "$images"/images/debian-12-*/image.json > /dev/null 2>&1 || {
    echo "error: no debian-12 image in $images; run ./test once or particled build-image" >&2; exit 1; }

load_before=$(cut -d' ' -f1 /proc/loadavg)
mkdir -p "$work/state"
ln -s "$images/images" "$work/state/images"
ssh-keygen -q -t ed25519 -N "" -f "$work/key"
memory_dir="${MEMORY_DIR:-/dev/shm/particle-bench-$$}"
echo "{\"idle_default_timeout_seconds\": 3600, \"log_level\": \"debug\", \"memory_dir\": \"$memory_dir\"}" > "$work/config.json"
"$particled" run --config "$work/config.json" --state-dir "$work/state" --ssh-port $ssh_port \
    --http-port $http_port --api-port 0 --netns "$netns" --subnet 10.235.0.0/24 \
    > "$work/particled.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do grep -q "service=http" "$work/particled.log" && break; sleep 0.1; done

ssh_() {
    ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -i "$work/key" -p $ssh_port 127.0.0.1 "$@"
}
account=$(ssh_ whoami --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])')
ssh_ create web > /dev/null
ssh_ exec web -- "printf '[Service]\\nExecStart=/usr/bin/python3 -m http.server 8000 -d /etc\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/web.service && systemctl enable --now web" > /dev/null
host="web-8000-$account.particle.localhost"
until [ "$(curl -s -o /dev/null -w '%{http_code}' --resolve "$host:$http_port:127.0.0.1" "http://$host:$http_port/hostname")" = 200 ]; do
    sleep 0.1
done

particle=$(ssh_ status web --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])')
times=()
for run in $(seq "$runs"); do
    ssh_ sleep web > /dev/null
    sleep 1
    ttfb=$(curl -s -o /dev/null -w '%{time_starttransfer}' --resolve "$host:$http_port:127.0.0.1" "http://$host:$http_port/hostname")
    times+=("$ttfb")
    echo "particle wake $run: first byte after $ttfb s"
done
saved_bytes=$(grep -o 'msg="guest asleep" bytes=[0-9]*' "$work/particled.log" | tail -1 | grep -o '[0-9]*$')

# The ceiling: bare QEMU with the particle's own recorded arguments (anonymous RAM, no
# Particle): the guest booted cold, saved with a plain `migrate` (all RAM in the stream), then
# resumed from that file RUNS times.
address=$(sqlite3 "$work/state/particle.db" "select address from particles where id='$particle'")
tap=$(sqlite3 "$work/state/particle.db" "select 'pt' || substr(id, 1, 12) from particles where id='$particle'")
ssh_ stop web > /dev/null
kill "$daemon"; wait "$daemon" 2>/dev/null || true
daemon=
bare_qmp="$work/bare-qmp.sock"
python3 - "$work/state/particles/$particle/qemu.argv" "$work" > "$work/bare-argv" <<'PY'
import json, re, sys
argv, work = json.load(open(sys.argv[1])), sys.argv[2]
out, skip = [], False
for word in argv:
    if skip:
        skip = False
        continue
    if word in ("-daemonize", "-S"):
        continue
    if word == "-pidfile":
        skip = True
        continue
    out.append(word)
text = "\n".join(out)
text = re.sub(r"path=[^,]*/qmp\.sock", f"path={work}/bare-qmp.sock", text)
text = re.sub(r"path=[^,]*/serial\.sock", f"path={work}/bare-serial.sock", text)
text = re.sub(r"path=[^,]*/agent\.sock", f"path={work}/bare-agent.sock", text)
text = re.sub(r"memory-backend-file,id=ram0,size=(\d+M),mem-path=[^,]*,share=on", r"memory-backend-ram,id=ram0,size=\1", text)
print(text)
PY
ip -n "$netns" tuntap add dev "$tap" mode tap
ip -n "$netns" link set "$tap" master pbr0 up
qmp_() { python3 - "$1" "$2" <<'PY'
import json, socket, sys, time
for _ in range(400):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.005)
f = s.makefile("rw")
f.readline(); f.write('{"execute":"qmp_capabilities"}\n'); f.flush(); f.readline()
for command in sys.argv[2].split(";"):
    if command == "wait-incoming":
        # A state saved while paused stays paused after loading, so `cont` must follow the load.
        while True:
            f.write('{"execute":"query-migrate"}\n'); f.flush()
            reply = json.loads(f.readline())
            while "return" not in reply:
                reply = json.loads(f.readline())
            if reply["return"].get("status") in ("completed", "failed"):
                break
            time.sleep(0.001)
        continue
    f.write(command + "\n"); f.flush()
    while True:
        line = json.loads(f.readline())
        if "return" in line or "error" in line:
            break
    if "error" in line: print(line, file=sys.stderr)
PY
}
mapfile -t words < "$work/bare-argv"
ip netns exec "$netns" qemu-system-x86_64 "${words[@]}" > "$work/bare-qemu.log" 2>&1 &
qemu=$!
until ip netns exec "$netns" curl -s -o /dev/null --max-time 2 "http://$address:8000/hostname"; do sleep 0.2; done
qmp_ "$bare_qmp" '{"execute":"stop"};{"execute":"migrate-set-parameters","arguments":{"max-bandwidth":68719476736}};{"execute":"migrate","arguments":{"uri":"exec:cat > '"$work"'/bare.state"}}'
sleep 3
bare_bytes=$(stat -c %s "$work/bare.state")
kill -9 $qemu; wait $qemu 2>/dev/null || true
bare=()
for run in $(seq "$runs"); do
    rm -f "$bare_qmp"
    start=$(date +%s.%N)
    ip netns exec "$netns" qemu-system-x86_64 "${words[@]}" -S -incoming "exec:cat $work/bare.state" > "$work/bare-qemu.log" 2>&1 &
    qemu=$!
    qmp_ "$bare_qmp" 'wait-incoming;{"execute":"cont"}'
    until ip netns exec "$netns" curl -s -o /dev/null --max-time 5 "http://$address:8000/hostname"; do sleep 0.01; done
    end=$(date +%s.%N)
    elapsed=$(python3 -c "print(f'{$end - $start:.3f}')")
    bare+=("$elapsed")
    echo "bare QEMU resume $run: first byte after $elapsed s"
    kill -9 $qemu; wait $qemu 2>/dev/null || true
done

summary() { python3 - "$@" <<'PY'
import statistics, sys
values = sorted(float(v) for v in sys.argv[1:])
p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
print(f"p50 {statistics.median(values) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, min {values[0] * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms over {len(values)} runs")
PY
}
particle_summary=$(summary "${times[@]}")
bare_summary=$(summary "${bare[@]}")
ratio=$(python3 - "${times[*]}" "${bare[*]}" <<'PY'
import statistics, sys
a = statistics.median(float(v) for v in sys.argv[1].split()); b = statistics.median(float(v) for v in sys.argv[2].split())
print(f"{a / b:.2f}")
PY
)
echo "particle: $particle_summary"
echo "bare QEMU: $bare_summary"
echo "ratio of medians (particle / bare QEMU): $ratio"

accelerator=$(grep -o 'accelerator [a-z]*' "$work/particled.log" | head -1 || true)
[ -n "${NO_RECORD:-}" ] || {
    echo
    echo "## Wake from sleep to first HTTP byte ($(date -u +%Y-%m-%d))"
    echo
    echo "\`RUNS=$runs bench/wake.sh\` on $(nproc) vCPUs, $(free -g | awk '/Mem:/ {print $2}') GiB,"
    echo "$(. /etc/os-release; echo "$PRETTY_NAME"), $(qemu-system-x86_64 --version | head -1), ${accelerator:-accelerator unknown}."
    echo "A p1 debian-12 particle (2 GiB) serving \`python3 -m http.server\`; each run: \`ssh sleep\`, one"
    echo "second, then one curl through the proxy, timed to its first byte. Saved state: ${saved_bytes:-?} bytes of"
    echo "device state plus the RAM file. Bare QEMU: the particle's own QEMU arguments with anonymous RAM, the"
    echo "guest booted cold and saved with a plain \`migrate\` (${bare_bytes} bytes, all RAM in the stream), then"
    echo "started with \`-incoming\` and \`cont\` and timed from QEMU's start to the first byte of a curl from"
    echo "inside the namespace. Load average (1 min) at the start: $load_before; at the end: $(cut -d' ' -f1 /proc/loadavg)."
    echo "$(grep -o 'msg="[^"]*memory_dir[^"]*"' "$work/particled.log" | head -1 | sed 's/^msg="//; s/"$//')."
    echo
    echo "- Particle, request to first byte: $particle_summary."
    echo "- Bare QEMU, process start to first byte: $bare_summary."
    echo "- Ratio of medians: $ratio (below 1: Particle's wake beats restoring the plain stream)."
} >> docs/benchmarks.md
