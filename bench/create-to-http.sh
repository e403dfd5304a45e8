#!/usr/bin/env bash
# Measures, through Particle's own faces, the time from `ssh create` to the first HTTP 200 that
# the proxy returns from a server in the new guest, over RUNS particles (default 5).
# Starts its own particled (state dir, ports and network namespace of its own), needs root and
# the debian-12 image (PARTICLE_IMAGES, default /var/cache/particle-test, as ./test builds it),
# and appends the results with the machine and command to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-5}"
images="${PARTICLE_IMAGES:-/var/cache/particle-test}"
particled="${PARTICLED:-.build/release/particled}"
work=$(mktemp -d /tmp/particle-bench-XXXXXX)
netns="ptbench$$"
ssh_port=2722
http_port=8780

cleanup() {
    [ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    pkill -9 -f "qemu-system.*$work" 2>/dev/null || true
    ip netns delete "$netns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

[ -x "$particled" ] || { echo "error: $particled is missing; run: swift build -c release" >&2; exit 1; }
ls "$images"/images/debian-12-*/image.json > /dev/null 2>&1 || {
    echo "error: no debian-12 image in $images; run ./test once or particled build-image" >&2; exit 1; }

mkdir -p "$work/state"
ln -s "$images/images" "$work/state/images"
ssh-keygen -q -t ed25519 -N "" -f "$work/key"
"$particled" run --state-dir "$work/state" --ssh-port $ssh_port --http-port $http_port \
    --api-port 0 --netns "$netns" --subnet 10.234.0.0/24 > "$work/particled.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do grep -q "service=http" "$work/particled.log" && break; sleep 0.1; done

ssh_() {
    ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -i "$work/key" -p $ssh_port 127.0.0.1 "$@"
}
account=$(ssh_ whoami --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])')

times=()
for run in $(seq "$runs"); do
    name="bench$run"
    start=$(date +%s.%N)
    ssh_ create "$name" > /dev/null
    ssh_ exec "$name" -- 'systemd-run python3 -m http.server 8000 -d /etc' > /dev/null
    url="http://$name-8000-$account.particle.localhost:$http_port/hostname"
    until [ "$(curl -s -o /dev/null -w '%{http_code}' --resolve "$name-8000-$account.particle.localhost:$http_port:127.0.0.1" "$url")" = 200 ]; do
        sleep 0.05
    done
    end=$(date +%s.%N)
    elapsed=$(python3 -c "print(f'{$end - $start:.2f}')")
    times+=("$elapsed")
    echo "run $run: create to first 200 in $elapsed s"
    ssh_ delete "$name" --yes > /dev/null
done

summary=$(python3 - "${times[@]}" <<'PY'
import statistics, sys
values = sorted(float(v) for v in sys.argv[1:])
p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
print(f"median {statistics.median(values):.2f} s, p99 {p99:.2f} s, min {values[0]:.2f} s, max {values[-1]:.2f} s over {len(values)} runs")
PY
)
echo "$summary"

accelerator=$(grep -o 'accelerator [a-z]*' "$work/particled.log" | head -1 || true)
{
    echo
    echo "## Create to first HTTP 200 through the proxy ($(date -u +%Y-%m-%d))"
    echo
    echo "\`RUNS=$runs bench/create-to-http.sh\` on $(nproc) vCPUs, $(free -g | awk '/Mem:/ {print $2}') GiB,"
    echo "$(. /etc/os-release; echo "$PRETTY_NAME"), $(qemu-system-x86_64 --version | head -1), ${accelerator:-accelerator unknown}."
    echo "Each run: \`ssh create\`, \`exec\` of \`systemd-run python3 -m http.server 8000\`, then curl through"
    echo "the proxy every 50 ms until 200. A cold boot of the debian-12 guest under TCG."
    echo
    echo "Result: $summary."
} >> docs/benchmarks.md
