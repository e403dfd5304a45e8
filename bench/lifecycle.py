#!/usr/bin/env python3
"""Times Particle's lifecycle steps beside the same steps done with bare QEMU on the same image.

Starts its own particled (state dir, ports and network namespace of its own) and drives it over
SSH with the OpenSSH client, like a user. The bare-QEMU ceiling reuses the argument vector that
particled recorded for a guest (qemu.argv), so both run the same machine, kernel and disk image.
Needs root and the debian-12 image (PARTICLE_IMAGES, default /var/cache/particle-test).
Results go to stdout and are appended to docs/benchmarks.md.

Usage: RUNS=20 bench/lifecycle.sh
"""
import glob, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

RUNS = int(os.environ.get("RUNS", "20"))
IMAGES = os.environ.get("PARTICLE_IMAGES", "/var/cache/particle-test")
PARTICLED = os.environ.get("PARTICLED", ".build/release/particled")
SSH_PORT, HTTP_PORT = 2724, 8784
NETNS = f"ptlife{os.getpid()}"
WORK = tempfile.mkdtemp(prefix="particle-bench-")
STATE = f"{WORK}/state"
# A p1 particle: 2 GiB of guest memory.
GUEST_BYTES = 2 << 30
LOAD_BEFORE = open("/proc/loadavg").read().split()[0]
MEMORY = f"/dev/shm/particle-bench-{os.getpid()}"


def run(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def ssh(*args):
    return run("ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "-i", f"{WORK}/key", "-p", str(SSH_PORT), "127.0.0.1", *args).stdout


def curl_until_200(host, path="/hostname", timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30", "--resolve",
                  f"{host}:{HTTP_PORT}:127.0.0.1", f"http://{host}:{HTTP_PORT}{path}", check=False).stdout
        if out == "200":
            return
        time.sleep(0.05)
    raise RuntimeError(f"no 200 from {host}")


def netns_curl_until_200(address, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = run("ip", "netns", "exec", NETNS, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                  "--max-time", "5", f"http://{address}:8000/hostname", check=False).stdout
        if out == "200":
            return
        time.sleep(0.05)
    raise RuntimeError(f"no 200 from {address}")


def qmp(path, *commands):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    f.readline()
    replies = []
    for command in ({"execute": "qmp_capabilities"},) + commands:
        f.write(json.dumps(command) + "\n")
        f.flush()
        while True:
            line = json.loads(f.readline())
            if "return" in line or "error" in line:
                replies.append(line)
                break
    s.close()
    return replies[1:]


def summary(values):
    values = sorted(values)
    p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
    return statistics.median(values), p99


def timed(step):
    start = time.monotonic()
    step()
    return time.monotonic() - start


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def rss_split(pid, guest_bytes):
    """Resident bytes of a QEMU: (of the guest RAM mapping, of everything else). The guest RAM is
    the one mapping exactly the guest's memory size, a shared file mapping (Particle) or anonymous
    memory (bare QEMU)."""
    guest, other, size, current = 0, 0, 0, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            field = line.split(":")[0]
            if field == "Size":
                size = int(line.split()[1]) * 1024
            elif field == "Rss":
                current = int(line.split()[1]) * 1024
                if size == guest_bytes:
                    guest += current
                else:
                    other += current
    return guest, other


def pss_and_shmem(pid):
    """Proportional set size of a process, which counts its shared RAM file pages once."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        values = {l.split(":")[0]: int(l.split()[1]) * 1024 for l in f if l.split()[-1] == "kB"}
    return values.get("Pss", 0)


class Bare:
    """A bare QEMU run of the same machine: the particle's recorded argv without -daemonize."""

    def __init__(self, particle_id, tag):
        self.directory = f"{WORK}/bare-{tag}"
        os.makedirs(self.directory, exist_ok=True)
        source = f"{STATE}/particles/{particle_id}"
        argv = json.load(open(f"{source}/qemu.argv"))
        self.qmp_path = f"{self.directory}/qmp.sock"
        words, skip = [], False
        for word in argv:
            if skip:
                skip = False
                continue
            if word in ("-daemonize", "-S"):
                continue
            if word == "-pidfile":
                skip = True
                continue
            word = word.replace(f"{source}/qmp.sock", self.qmp_path)
            word = word.replace(f"{source}/serial.sock", f"{self.directory}/serial.sock")
            word = word.replace(f"{source}/agent.sock", f"{self.directory}/agent.sock")
            word = word.replace(f"{MEMORY}/{particle_id}.ram", f"{self.directory}/ram")
            words.append(word)
        self.argv = words
        self.source = source

    def start(self, disk):
        # particled removed the particle's tap when it stopped it: make one on the bridge.
        tap = next(w.split("ifname=")[1].split(",")[0] for w in self.argv if "ifname=" in w)
        if run("ip", "-n", NETNS, "link", "show", "dev", tap, check=False).returncode != 0:
            run("ip", "-n", NETNS, "tuntap", "add", "dev", tap, "mode", "tap")
            run("ip", "-n", NETNS, "link", "set", tap, "master", "pbr0", "up")
        argv = [w.replace(f"{self.source}/disk.qcow2", disk) for w in self.argv]
        self.process = subprocess.Popen(["ip", "netns", "exec", NETNS, "qemu-system-x86_64", *argv],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(self.qmp_path):
            time.sleep(0.005)

    def qemu_pid(self):
        out = run("pgrep", "-f", f"qemu-system.*{self.qmp_path}", check=False).stdout.split()
        return int(out[0]) if out else None

    def kill(self):
        self.process.kill()
        self.process.wait()
        pid = self.qemu_pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
        for name in ("qmp.sock", "ram"):
            if os.path.exists(f"{self.directory}/{name}"):
                os.remove(f"{self.directory}/{name}")


def main():
    if not os.access(PARTICLED, os.X_OK):
        sys.exit(f"error: {PARTICLED} is missing; run: swift build -c release")
    if not glob.glob(f"{IMAGES}/images/debian-12-*/image.json"):
        sys.exit(f"error: no debian-12 image in {IMAGES}; run ./test once or particled build-image")
    os.makedirs(STATE)
    os.symlink(f"{IMAGES}/images", f"{STATE}/images")
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{WORK}/key")
    json.dump({"idle_default_timeout_seconds": 86400, "memory_dir": MEMORY}, open(f"{WORK}/config.json", "w"))
    log = open(f"{WORK}/particled.log", "w")
    daemon = subprocess.Popen([PARTICLED, "run", "--config", f"{WORK}/config.json", "--state-dir", STATE,
                               "--ssh-port", str(SSH_PORT), "--http-port", str(HTTP_PORT), "--api-port", "0",
                               "--netns", NETNS, "--subnet", "10.236.0.0/24"], stdout=log, stderr=log)
    try:
        bench(daemon)
    finally:
        daemon.terminate()
        daemon.wait()
        run("pkill", "-9", "-f", f"qemu-system.*{WORK}", check=False)
        run("ip", "netns", "delete", NETNS, check=False)
        shutil.rmtree(WORK, ignore_errors=True)
        shutil.rmtree(MEMORY, ignore_errors=True)


def wait_for_log(text, timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in open(f"{WORK}/particled.log").read():
            return
        time.sleep(0.2)
    raise RuntimeError(f"particled never logged {text}")


def bench(daemon):
    wait_for_log("service=http")
    # particled builds the image's template at its first start; fast create needs it.
    end = time.monotonic() + 300
    while not glob.glob(f"{IMAGES}/images/debian-12-*/templates/*/template.json") and time.monotonic() < end:
        time.sleep(0.5)
    account = json.loads(ssh("whoami", "--json"))["id"]
    results = {}
    server = "systemd-run python3 -m http.server 8000 -d /etc"

    # Create to first 200 (fast create from the template).
    times = []
    for run_number in range(RUNS):
        name = f"c{run_number}"
        start = time.monotonic()
        ssh("create", name)
        ssh("exec", name, "--", server)
        curl_until_200(f"{name}-8000-{account}.particle.localhost")
        times.append(time.monotonic() - start)
        ssh("delete", name, "--yes")
    results["create to first HTTP 200"] = times

    ssh("create", "web")
    ssh("exec", "web", "--", "printf '[Unit]\\nAfter=network.target\\n[Service]\\nExecStart=/usr/bin/python3 -m http.server 8000 -d /etc\\n"
        "[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/web.service && systemctl enable --now web")
    host = f"web-8000-{account}.particle.localhost"
    curl_until_200(host)
    particle = json.loads(ssh("status", "web", "--json"))
    particle_id = particle["id"]
    address = run("sqlite3", f"{STATE}/particle.db", f"select address from particles where id='{particle_id}'").stdout.strip()

    # Memory of an idle running particle beyond its guest RAM, and of a sleeping one.
    time.sleep(10)
    pid = int(open(f"{STATE}/particles/{particle_id}/qemu.pid").read())
    running_rss = rss_bytes(pid)
    running_guest, running_other = rss_split(pid, GUEST_BYTES)

    # Wake to first 200, and cold start to first 200, and stop.
    wakes, starts, stops = [], [], []
    for _ in range(RUNS):
        ssh("sleep", "web")
        time.sleep(0.5)
        wakes.append(timed(lambda: curl_until_200(host)))
    ssh("sleep", "web")
    time.sleep(1)
    sleeping_processes = run("pgrep", "-f", f"qemu-system.*{particle_id}", check=False).stdout.split()
    saved = sum(os.path.getsize(f) for f in glob.glob(f"{STATE}/particles/{particle_id}/memory.*"))
    saved_disk = int(run("du", "-B1", "-c", *glob.glob(f"{STATE}/particles/{particle_id}/memory.*")).stdout.split()[-2])
    ssh("start", "web")
    for _ in range(RUNS):
        stops.append(timed(lambda: ssh("stop", "web")))
        starts.append(timed(lambda: (ssh("start", "web"), curl_until_200(host))))
    results["wake from sleep to first HTTP 200"] = wakes
    results["cold start to first HTTP 200"] = starts
    results["stop (clean shutdown)"] = stops

    # Snapshot and duplicate of a 10 GiB disk holding 1 GiB of data.
    ssh("exec", "web", "--", "head -c 1073741824 /dev/urandom > /root/data && sync")
    ssh("stop", "web")
    snapshots, duplicates = [], []
    for number in range(RUNS):
        snapshots.append(timed(lambda: ssh("snapshot", "create", "web", f"s{number}")))
        ssh("snapshot", "rm", "web", f"s{number}")
        duplicates.append(timed(lambda: ssh("duplicate", "web", f"d{number}")))
        ssh("delete", f"d{number}", "--yes")
    results["snapshot (10 GiB disk, 1 GiB data)"] = snapshots
    results["duplicate (10 GiB disk, 1 GiB data)"] = duplicates

    # Bare QEMU, the same machine and image without Particle.
    disk = f"{STATE}/particles/{particle_id}/disk.qcow2"
    bare = Bare(particle_id, "boot")
    base = run("qemu-img", "info", "--output=json", disk).stdout
    backing = json.loads(base).get("full-backing-filename") or json.loads(base).get("backing-filename")
    bare_boot, bare_stop, bare_snapshot, bare_copy, bare_create = [], [], [], [], []
    for number in range(RUNS):
        start = time.monotonic()
        bare.start(disk)
        netns_curl_until_200(address)
        bare_boot.append(time.monotonic() - start)
        start = time.monotonic()
        qmp(bare.qmp_path, {"execute": "system_powerdown"})
        bare.process.wait(timeout=60)
        bare_stop.append(time.monotonic() - start)
        bare.kill()
    bare.start(disk)
    netns_curl_until_200(address)
    time.sleep(10)
    bare_rss = rss_bytes(bare.qemu_pid())
    bare_guest, bare_other = rss_split(bare.qemu_pid(), GUEST_BYTES)
    bare.kill()
    for number in range(RUNS):
        bare_snapshot.append(timed(lambda: run("qemu-img", "snapshot", "-c", f"b{number}", disk)))
        run("qemu-img", "snapshot", "-d", f"b{number}", disk)
        copy = f"{WORK}/copy.qcow2"
        bare_copy.append(timed(lambda: run("qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", "-F", "qcow2",
                                           "-B", backing, disk, copy)))
        os.remove(copy)
        overlay = f"{WORK}/fresh.qcow2"
        start = time.monotonic()
        run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, overlay, str(10 << 30))
        bare.start(overlay)
        # A fresh guest has no server: its sshd banner stands for "answers".
        end = time.monotonic() + 120
        while time.monotonic() < end:
            probe = run("ip", "netns", "exec", NETNS, "timeout", "1", "bash", "-c",
                        f"exec 3<>/dev/tcp/{address}/22 && head -c 4 <&3", check=False).stdout
            if probe == "SSH-":
                break
            time.sleep(0.05)
        bare_create.append(time.monotonic() - start)
        bare.kill()
        os.remove(overlay)

    ceilings = {
        "create to first HTTP 200": (bare_create, "qemu-img create + boot of a fresh overlay to its sshd banner"),
        "wake from sleep to first HTTP 200": (None, "see bench/wake.sh: bare QEMU resuming a plain migration file"),
        "cold start to first HTTP 200": (bare_boot, "boot of the same disk to its server's first 200"),
        "stop (clean shutdown)": (bare_stop, "system_powerdown until QEMU exits"),
        "snapshot (10 GiB disk, 1 GiB data)": (bare_snapshot, "qemu-img snapshot -c"),
        "duplicate (10 GiB disk, 1 GiB data)": (bare_copy, "qemu-img convert -B base (the data above the base)"),
    }
    lines = []
    for step, values in results.items():
        median, p99 = summary(values)
        bare_values, how = ceilings[step]
        if bare_values:
            bare_median, bare_p99 = summary(bare_values)
            lines.append(f"| {step} | {median:.3f} s | {p99:.3f} s | {bare_median:.3f} s | {bare_p99:.3f} s | "
                         f"{median / bare_median:.2f} | {how} |")
        else:
            lines.append(f"| {step} | {median:.3f} s | {p99:.3f} s | - | - | - | {how} |")
    memory = [
        f"- Sleeping particle: {len(sleeping_processes)} QEMU processes, 0 bytes of host RAM held; its saved"
        f" state is {saved_disk / 2**20:.0f} MiB on disk ({saved / 2**30:.1f} GiB apparent, sparse).",
        f"- Idle running particle, 10 s after its server answered: QEMU RSS {running_rss / 2**20:.0f} MiB, of which"
        f" {running_guest / 2**20:.0f} MiB is guest RAM the guest touched and {running_other / 2**20:.0f} MiB is QEMU"
        f" itself beyond the guest's memory. Bare QEMU of the same guest: {bare_rss / 2**20:.0f} MiB, of which"
        f" {bare_guest / 2**20:.0f} MiB guest RAM and {bare_other / 2**20:.0f} MiB beyond it; ratio of the parts"
        f" beyond guest memory {running_other / max(bare_other, 1):.2f}.",
    ]
    machine = (f"{os.cpu_count()} vCPUs, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
               f"{run('sh', '-c', '. /etc/os-release; echo $PRETTY_NAME').stdout.strip()}, "
               f"{run('qemu-system-x86_64', '--version').stdout.splitlines()[0]}")
    text = "\n".join([
        "", f"## Lifecycle steps beside bare QEMU ({time.strftime('%Y-%m-%d', time.gmtime())})", "",
        f"`RUNS={RUNS} bench/lifecycle.sh` on {machine}, TCG. A p1 debian-12 particle (1 vCPU, 2 GiB, 10 GiB"
        " disk) driven over SSH; times from the client's view. Bare QEMU runs the particle's own recorded"
        " argument vector on the same disk image. Load average (1 min) at the start:"
        f" {LOAD_BEFORE}; at the end: {open('/proc/loadavg').read().split()[0]}.", "",
        "| step | Particle median | Particle p99 | bare QEMU median | bare QEMU p99 | ratio | bare QEMU step |",
        "|---|---|---|---|---|---|---|", *lines, "", *memory, ""])
    print(text)
    with open("docs/benchmarks.md", "a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
