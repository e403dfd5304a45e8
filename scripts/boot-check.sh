#!/usr/bin/env bash
# Boots one debian-12 guest the way the VMM does and checks it from inside its network namespace.
#
# Usage (as root, from the repository): scripts/boot-check.sh [OUTPUT_FOLDER]
#
# 1. `swift test --filter BootPreparationTests` builds (or reuses) the image, probes the
#    accelerator, creates a 10 GiB qcow2 overlay, writes a config drive and the QEMU argv
#    (from QEMUArguments) into OUTPUT_FOLDER (default /var/tmp/particle-boot-check-out).
# 2. This script creates the network namespace `pimgtest` with a bridge (10.213.0.1/24) and the
#    tap `pimgtest-tap0`, and starts QEMU inside it. It then checks five things:
#    - `particle: ready` on the serial console;
#    - SSH as root with the platform key, against the host key pinned from the config drive;
#    - an HTTP server started with systemd-run answers curl;
#    - the root file system has grown to the overlay size;
#    - QMP `system_powerdown` shuts the guest down cleanly.
#    It prints the times it measured.
#
# Nothing leaves the namespace: the guest has no route out, and the script talks only to
# 10.213.0.2 from inside `pimgtest`. The namespace, tap and QEMU are removed on exit.
set -euo pipefail

out=${1:-/var/tmp/particle-boot-check-out}
netns=pimgtest
tap=pimgtest-tap0
guest=10.213.0.2
qemu_pid=

cleanup() {
    if [[ -n "$qemu_pid" ]] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    ip netns delete "$netns" 2>/dev/null || true
}
trap cleanup EXIT

in_netns() { ip netns exec "$netns" "$@"; }
now_ms() { date +%s%3N; }
fail() { echo "FAIL: $*" >&2; exit 1; }

if [[ -z "${SKIP_PREPARE:-}" ]]; then
    PARTICLE_BOOT_PREPARE="$out" swift test --filter BootPreparationTests 2>&1 \
        | grep -E '^(build|accelerator|config-drive|.*level=(warning|error))|passed|failed'
fi
[[ -f "$out/qemu.args" ]] || fail "no $out/qemu.args; run without SKIP_PREPARE"

ip netns delete "$netns" 2>/dev/null || true
ip netns add "$netns"
in_netns ip link set lo up
in_netns ip link add br0 type bridge
in_netns ip address add 10.213.0.1/24 dev br0
in_netns ip link set br0 up
in_netns ip tuntap add dev "$tap" mode tap
in_netns ip link set "$tap" master br0 up

ssh_options=(-i "$out/platform_key" -o StrictHostKeyChecking=yes
    -o UserKnownHostsFile="$out/known_hosts" -o ConnectTimeout=2 -o BatchMode=yes)
echo "$guest $(cut -d' ' -f1-2 "$out/host_key.pub")" > "$out/known_hosts"
guest_ssh() { in_netns ssh "${ssh_options[@]}" "root@$guest" "$@"; }

mapfile -t arguments < "$out/qemu.args"
rm -f "$out/serial.log" "$out/qemu.pid"
echo "qemu-system-x86_64 ${arguments[*]}"
started=$(now_ms)
in_netns qemu-system-x86_64 "${arguments[@]}" 2> "$out/qemu.stderr" &
qemu_pid=$!

# Poll until both the serial marker and the SSH banner are seen, or 180 s pass.
ready_ms= banner_ms=
while [[ -z "$ready_ms" || -z "$banner_ms" ]]; do
    (( $(now_ms) - started < 180000 )) || fail "guest not ready after 180 s; see $out/serial.log"
    kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited: $(tail -3 "$out/qemu.stderr")"
    if [[ -z "$ready_ms" ]] && grep -q 'particle: ready' "$out/serial.log" 2>/dev/null; then
        ready_ms=$(( $(now_ms) - started ))
    fi
    if [[ -z "$banner_ms" ]] && in_netns timeout 1 bash -c \
        "exec 3<>/dev/tcp/$guest/22 && head -c 7 <&3 | grep -q SSH-2.0" 2>/dev/null; then
        banner_ms=$(( $(now_ms) - started ))
    fi
    sleep 0.1
done
echo "boot to sshd banner: ${banner_ms} ms"
echo "boot to 'particle: ready': ${ready_ms} ms"

name=$(guest_ssh hostname)
ssh_ms=$(( $(now_ms) - started ))
[[ "$name" == imgtest ]] || fail "hostname is '$name', expected imgtest"
echo "ssh hostname: $name (first command done at ${ssh_ms} ms)"

machine_id=$(guest_ssh cat /etc/machine-id)
[[ "$machine_id" == 0123456789abcdef0123456789abcdef ]] || fail "machine-id is $machine_id"
echo "machine-id: $machine_id"

guest_ssh systemd-run --unit=pimgtest-http -p WorkingDirectory=/etc python3 -m http.server 8000
for _ in $(seq 50); do
    if page=$(in_netns curl -sf --max-time 2 "http://$guest:8000/"); then break; fi
    sleep 0.2
done
grep -q hostname <<< "${page:-}" || fail "HTTP server on $guest:8000 did not answer"
echo "http: listing of /etc served on port 8000"

guest_ssh 'systemctl is-active particle-growfs.service >/dev/null || sleep 5'
root_bytes=$(guest_ssh df -B1 --output=size / | tail -1)
(( root_bytes > 9 * 1024 * 1024 * 1024 )) || fail "root file system is $root_bytes bytes"
echo "root file system: $root_bytes bytes"
guest_ssh systemd-analyze 2>/dev/null | head -1 || true

powerdown_started=$(now_ms)
python3 - "$out/qmp.sock" <<'EOF'
import json, socket, sys
qmp = socket.socket(socket.AF_UNIX)
qmp.connect(sys.argv[1])
stream = qmp.makefile("rw")
json.loads(stream.readline())
for command in ("qmp_capabilities", "system_powerdown"):
    stream.write(json.dumps({"execute": command}) + "\n")
    stream.flush()
    while "return" not in (reply := json.loads(stream.readline())):
        if "error" in reply:
            sys.exit(f"QMP {command} failed: {reply}")
EOF
for _ in $(seq 300); do
    kill -0 "$qemu_pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$qemu_pid" 2>/dev/null && fail "guest still running 30 s after system_powerdown"
wait "$qemu_pid" || fail "QEMU exited with status $?"
qemu_pid=
echo "system_powerdown to QEMU exit: $(( $(now_ms) - powerdown_started )) ms"
echo "PASS"
