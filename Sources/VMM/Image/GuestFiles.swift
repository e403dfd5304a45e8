/// Scripts and systemd units that the image builder writes into a guest image.
///
/// They are Swift constants so that `particled` needs no resource files. The config drive that
/// `particle-init` reads is described in `ConfigDrive.swift`.
enum GuestFiles {
    /// The initramfs `/init`: loads the virtio modules, mounts the root disk and starts systemd.
    ///
    /// It also copies `/etc/machine-id` from the config drive before `switch_root`, because
    /// systemd reads the machine id once, as PID 1, before any unit can run. With
    /// `particle.probe` on the kernel command line it only prints the probe marker and powers
    /// off, which is how `Accelerator.probe` times a boot without any disks.
    static let initramfsInit = #"""
        #!/bin/busybox sh
        /bin/busybox --install -s /bin
        export PATH=/bin
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev

        fail() {
            echo "particle: initramfs: $*" > /dev/ttyS0
            poweroff -f
        }

        if grep -q 'particle\.probe' /proc/cmdline; then
            echo "\#(probeMarker)" > /dev/ttyS0
            poweroff -f
        fi

        while read -r module; do
            insmod "/lib/modules/$module" || fail "cannot load $module"
        done < /lib/modules/load-order

        root=/dev/vda
        mode=rw
        for word in $(cat /proc/cmdline); do
            case "$word" in
                root=/dev/*) root="${word#root=}" ;;
                ro) mode=ro ;;
            esac
        done

        # virtio-blk devices appear asynchronously after the module loads: wait up to 5 s.
        tries=0
        while [ ! -b "$root" ]; do
            tries=$((tries + 1))
            [ "$tries" -gt 100 ] && fail "root device $root not found"
            sleep 0.05
        done

        mkdir -p /newroot /config
        mount -t ext4 -o "$mode" "$root" /newroot || fail "cannot mount $root"
        if [ -b /dev/vdb ] && mount -t ext4 -o ro /dev/vdb /config 2>/dev/null; then
            if [ -s /config/machine-id ] && [ "$mode" = rw ]; then
                cat /config/machine-id > /newroot/etc/machine-id
            fi
            umount /config
        fi

        umount /proc /sys
        mount --move /dev /newroot/dev
        exec switch_root /newroot /sbin/init
        """#

    /// The line the initramfs prints on the serial console in probe mode.
    static let probeMarker = "particle: probe ok"

    /// The line the guest prints on the serial console once sshd accepts connections.
    static let readyMarker = "particle: ready"

    /// Mount point of the config drive inside the guest, created by the image builder.
    static let configMountPoint = "/var/lib/particle/config-drive"

    /// `/usr/lib/particle/particle-init`: applies the config drive to the running guest.
    ///
    /// It runs while journald, udev and a dozen other units start on the one vCPU, and under
    /// TCG each new process costs tens of milliseconds there. So the script uses shell builtins
    /// where it can and starts five programs: mount, ip (one batch), rm, chmod and umount.
    /// `copy` keeps the last line of a file even without a final newline.
    static let particleInit = #"""
        #!/bin/sh
        # Applies the Particle config drive (/dev/vdb) to this guest: hostname, machine id,
        # network, root's authorized_keys and the SSH host key. Runs before ssh.service.
        set -eu
        config=\#(configMountPoint)

        # Copies a file with builtins only; the target must not exist, so umask sets its mode.
        copy() {
            while IFS= read -r line || [ -n "$line" ]; do
                printf '%s\n' "$line"
            done < "$1" > "$2"
        }

        mount -t ext4 -o ro,nosuid,nodev,noexec /dev/vdb "$config"
        trap 'umount "$config"' EXIT

        read -r name < "$config/hostname"
        echo "$name" > /etc/hostname
        echo "$name" > /proc/sys/kernel/hostname
        printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
            "$name" > /etc/hosts

        read -r wanted < "$config/machine-id"
        current=
        read -r current < /etc/machine-id || true
        [ "$wanted" = "$current" ] || echo "$wanted" > /etc/machine-id

        read -r address < "$config/network/address"
        read -r prefix < "$config/network/prefix-length"
        read -r gateway < "$config/network/gateway"
        mac=
        [ -s "$config/network/mac" ] && read -r mac < "$config/network/mac"
        ip -batch - <<EOF
        link set lo up
        ${mac:+link set eth0 address $mac}
        address flush dev eth0
        address add $address/$prefix dev eth0
        link set eth0 up
        route replace default via $gateway dev eth0
        EOF
        while read -r server; do
            [ -n "$server" ] && echo "nameserver $server"
        done < "$config/network/dns" > /etc/resolv.conf

        rm -f /root/.ssh/authorized_keys /etc/ssh/ssh_host_*
        umask 077
        copy "$config/authorized_keys" /root/.ssh/authorized_keys
        if [ -s "$config/ssh/ssh_host_ed25519_key" ]; then
            copy "$config/ssh/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
            umask 022
            copy "$config/ssh/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
        else
            echo "particle-init: no host key on the config drive; generating one"
            ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
            umask 022
        fi
        chmod 0700 /root/.ssh
        echo "particle-init: applied config drive for $name ($address/$prefix)"
        """#

    /// `/usr/lib/particle/particle-agent`: answers the host on the second serial port (ttyS1).
    ///
    /// One request per line, `COMMAND ID [ARGUMENTS]`, answered by `ok ID` or `error ID REASON`:
    /// - `ping ID`
    /// - `sync ID`: writes the guest's dirty page cache to its disk (before a sleep, so that a
    ///   copy or snapshot of the sleeping disk has the latest writes);
    /// - `timers ID`, answered by `ok ID EPOCH`: when the next active systemd timer is due, in
    ///   seconds since the epoch, or 0 for none, so the host can wake a sleeping particle for it;
    /// - `time ID SECONDS NANOSECONDS` sets the wall clock (after a wake, it is behind by the
    ///   length of the sleep);
    /// - `entropy ID HEX` mixes the bytes into the kernel's pool and reseeds its random number
    ///   generator at once, so that two guests woken from one memory state never share it;
    /// - `identity ID` applies the config drive again (a guest restored from another's memory
    ///   takes its own name, address, MAC and keys) and restarts sshd with the new host key.
    ///
    /// It is perl because perl-base is in every Debian system, and one long-lived process
    /// answers in microseconds under TCG where starting a program costs tens of milliseconds.
    /// With `--record-stock-cron ROOT` it records the cron entries of the image under ROOT
    /// instead; the image builder runs that.
    static let agent = #"""
        #!/usr/bin/perl
        # Particle guest agent: answers the host on ttyS1. See particle-agent in Particle's source.
        #
        #   particle-agent                          serve the host on /dev/ttyS1
        #   particle-agent --record-stock-cron ROOT record the cron entries of the image under ROOT
        use strict;
        use warnings;
        use POSIX ();

        my $device = '/dev/ttyS1';
        my $clock_settime = 227;       # x86_64 system call number
        my $add_entropy = 0x40085203;  # RNDADDENTROPY
        my $reseed = 0x5207;           # RNDRESEEDCRNG
        my $port;

        # Prefix of the cron files: '' in a guest, the image's root folder when the builder runs this.
        my $root = '';

        sub reply { print $port join(' ', @_), "\n"; }

        # Seconds in a systemd time span like "9min 8.250372s".
        sub span_seconds {
            my ($span) = @_;  # a copy: the loop's own match would overwrite a caller's $1
            my %unit = (us => 1e-6, ms => 1e-3, s => 1, min => 60, h => 3600, d => 86400, w => 604800);
            my $total = 0;
            $total += $1 * $unit{$2} while $span =~ /([\d.]+)(us|ms|s|min|h|d|w)\b/g;
            return $total;
        }

        # Housekeeping timers of the image itself, which are no reason to wake a particle.
        my %housekeeping = map { $_ => 1 } qw(systemd-tmpfiles-clean.timer logrotate.timer
            man-db.timer);

        # The earliest next elapse of any active timer as (EPOCH, 'systemd', UNIT), or () for none.
        # systemd 252 prints calendar times in the local zone and monotonic ones as time since
        # boot; a monotonic timer's due time counts from now, as the guest's clock only runs
        # while it is awake.
        sub next_timer {
            my ($earliest, $unit);
            open(my $uptime, '<', '/proc/uptime') or return ();
            my ($since_boot) = split(/ /, scalar <$uptime>);
            close($uptime);
            open(my $show, '-|', 'systemctl', 'show', '--state=active',
                '--property=Id,NextElapseUSecRealtime,NextElapseUSecMonotonic', '*.timer') or return ();
            local $/ = '';  # one paragraph per timer
            while (my $block = <$show>) {
                my ($id) = $block =~ /^Id=(\S+)$/m;
                next if !defined $id || $housekeeping{$id};
                my $due = 0;
                if ($block =~ /^NextElapseUSecRealtime=\S+ (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)/m) {
                    $due = POSIX::mktime($6, $5, $4, $3, $2 - 1, $1 - 1900, 0, 0, -1) // 0;
                }
                if ($block =~ /^NextElapseUSecMonotonic=(.*\d.*)$/m) {
                    my $at = span_seconds($1);
                    my $monotonic = int(time() + $at - $since_boot);
                    $due = $monotonic if $at > 0 && ($due == 0 || $monotonic < $due);
                }
                ($earliest, $unit) = ($due, $id) if $due > 0 && (!defined $earliest || $due < $earliest);
            }
            close($show);
            return defined $earliest ? ($earliest, 'systemd', $unit) : ();
        }

        # The image's own cron entries, recorded by the image builder: the job lines of /etc/crontab
        # and /etc/cron.d, and the scripts in /etc/cron.hourly, daily, weekly, monthly and yearly.
        my $stock_file = '/usr/lib/particle/stock-cron';
        my @run_parts_folders = map { "/etc/cron.$_" } qw(hourly daily weekly monthly yearly);
        my $max_lines = 5000;  # per crontab; a longer file is read only this far

        # The names in a folder under $root, sorted, without hidden ones.
        sub folder_entries {
            my ($folder) = @_;
            opendir(my $handle, $root . $folder) or return ();
            my @names = sort grep { !/^\./ } readdir($handle);
            closedir($handle);
            return @names;
        }

        # The first line of a file, without its newline, or undef.
        sub first_line {
            my ($path) = @_;
            open(my $file, '<', $path) or return undef;
            my $line = <$file>;
            close($file);
            chomp($line) if defined $line;
            return $line;
        }

        # The scripts that run-parts runs in a folder: executable files named like cron.d files.
        sub run_parts_scripts {
            my ($folder) = @_;
            return grep { /^[A-Za-z0-9_-]+$/ && -f "$root$folder/$_" && -x _ } folder_entries($folder);
        }

        sub system_crontabs {
            my @names = grep { /^[A-Za-z0-9_-]+$/ && -f "$root/etc/cron.d/$_" }
                folder_entries('/etc/cron.d');
            return ('/etc/crontab', map { "/etc/cron.d/$_" } @names);
        }

        sub is_environment_setting {
            my ($line) = @_;
            return $line =~ /^\s*(?:"[^"]*"|'[^']*'|[^\s=]+)\s*=/;
        }

        # The job lines of a crontab as [LINE NUMBER, TEXT], with runs of blanks made one space.
        sub crontab_lines {
            my ($path) = @_;
            return () unless -f $root . $path && -s _ < (1 << 20);
            open(my $file, '<', $root . $path) or return ();
            my @lines;
            while (my $line = <$file>) {
                last if $. > $max_lines;
                next if $line =~ /^\s*(?:#|$)/ || is_environment_setting($line);
                push(@lines, [$., join(' ', split(' ', $line))]);
            }
            close($file);
            return @lines;
        }

        # Writes $stock_file for the image under $root; the image builder runs this.
        sub record_stock_cron {
            my @entries;
            for my $path (system_crontabs()) {
                push(@entries, "job\t$path\t$_->[1]") for crontab_lines($path);
            }
            for my $folder (@run_parts_folders) {
                push(@entries, "script\t$folder/$_") for run_parts_scripts($folder);
            }
            open(my $file, '>', $root . $stock_file) or die "cannot write $root$stock_file: $!\n";
            print $file "$_\n" for @entries;
            close($file) or die "cannot write $root$stock_file: $!\n";
        }

        sub handle {
            my ($command, $id, @arguments) = split(/ /, shift);
            return unless defined $id;
            if ($command eq 'ping') {
                reply('ok', $id);
            } elsif ($command eq 'sync') {
                system('sync') == 0 ? reply('ok', $id) : reply('error', $id, 'sync failed');
            } elsif ($command eq 'timers') {
                my @timer = next_timer();
                reply('ok', $id, @timer ? $timer[0] : 0);
            } elsif ($command eq 'time' && "@arguments" =~ /^(\d+) (\d+)$/) {
                my $moment = pack('q<q<', $1, $2);
                syscall($clock_settime, 0, $moment) == 0
                    or return reply('error', $id, "clock_settime: $!");
                reply('ok', $id);
            } elsif ($command eq 'entropy' && "@arguments" =~ /^((?:[0-9a-f]{2}){16,256})$/) {
                my $bytes = pack('H*', $1);
                my $info = pack('i i', 8 * length($bytes), length($bytes)) . $bytes;
                open(my $random, '+<', '/dev/urandom') or return reply('error', $id, "urandom: $!");
                ioctl($random, $add_entropy, $info) && ioctl($random, $reseed, 0)
                    ? reply('ok', $id) : reply('error', $id, "ioctl: $!");
                close($random);
            } elsif ($command eq 'identity') {
                system('blockdev', '--flushbufs', '/dev/vdb');
                system('/usr/lib/particle/particle-init') == 0
                    or return reply('error', $id, 'particle-init failed');
                # A restart returns once the new sshd listens (Type=notify); a reload would not.
                system('systemctl', 'restart', 'ssh.service');
                reply('ok', $id);
            } else {
                reply('error', $id, 'unknown request');
            }
        }

        sub serve {
            system('stty', '-F', $device, 'raw', '-echo') == 0 or die "stty $device failed\n";
            open($port, '+<', $device) or die "cannot open $device: $!\n";
            binmode($port);
            select((select($port), $| = 1)[0]);
            my $buffer = '';
            while (1) {
                my $count = sysread($port, $buffer, 4096, length($buffer));
                die "reading $device failed: $!\n" unless $count;
                while ($buffer =~ s/^([^\n]*)\n//) {
                    (my $line = $1) =~ s/\r\z//;
                    handle($line);
                }
            }
        }

        # The root folder argument, without a trailing slash.
        sub root_argument {
            my ($folder) = @_;
            die "particle-agent: missing ROOT folder\n" unless defined $folder;
            die "particle-agent: '$folder' is not a folder; pass the image's root folder\n"
                unless -d $folder;
            $folder =~ s{/+\z}{};
            return $folder;
        }

        if (!@ARGV) {
            serve();
        } elsif ($ARGV[0] eq '--record-stock-cron' && @ARGV == 2) {
            $root = root_argument($ARGV[1]);
            record_stock_cron();
        } else {
            die "usage: particle-agent [--record-stock-cron ROOT]\n";
        }
        """#

    /// Unit of the guest agent; it restarts if it ever exits.
    static let agentUnit = """
        [Unit]
        Description=Particle guest agent on ttyS1
        DefaultDependencies=no
        After=particle-init.service
        ConditionPathExists=/dev/ttyS1

        [Service]
        ExecStart=/usr/lib/particle/particle-agent
        Restart=always
        RestartSec=1

        [Install]
        WantedBy=sysinit.target
        """

    /// Unit that runs `particle-init` early, before the network and sshd start.
    ///
    /// It needs no mounts beyond `/` (mounted read-write by the initramfs) and `/run` (mounted
    /// by systemd itself), so it starts as soon as systemd does.
    static let particleInitUnit = """
        [Unit]
        Description=Apply the Particle config drive
        DefaultDependencies=no
        Before=sysinit.target network-pre.target ssh.service
        Wants=network-pre.target
        ConditionPathExists=/dev/vdb

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/usr/lib/particle/particle-init
        StandardOutput=journal+console

        [Install]
        WantedBy=sysinit.target
        """

    /// Unit that grows the root file system to the size of the disk overlay.
    ///
    /// Separate from `particle-init`, and ordered after the ready marker, because resize2fs
    /// takes about 3 s of CPU under TCG and sshd would otherwise start that much later.
    static let growUnit = """
        [Unit]
        Description=Grow the root file system to the disk size
        After=local-fs.target particle-ready.service

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/usr/sbin/resize2fs /dev/vda

        [Install]
        WantedBy=multi-user.target
        """

    /// Unit that prints the ready marker once ssh.service (Type=notify in Debian) is up.
    static let readyUnit = """
        [Unit]
        Description=Report on the serial console that the particle is ready
        After=ssh.service particle-init.service
        Wants=ssh.service

        [Service]
        Type=oneshot
        ExecStart=/bin/sh -c 'echo "\(readyMarker)" > /dev/ttyS0'

        [Install]
        WantedBy=multi-user.target
        """

    /// sshd drop-in: root logs in with a key only, and only the ed25519 host key is used.
    static let sshdConfig = """
        HostKey /etc/ssh/ssh_host_ed25519_key
        PermitRootLogin prohibit-password
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UseDNS no
        """

    /// `/etc/fstab`: the root file system is the whole of /dev/vda, ext4.
    static let fstab = "/dev/vda / ext4 rw,noatime 0 0\n"

    /// Units that cost boot time under TCG or do nothing useful in a particle.
    ///
    /// The gettys are masked because root has no password: the serial console only carries
    /// logs. Periodic jobs (apt, e2scrub, fstrim) would compete with the user's work.
    static let maskedUnits = [
        "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
        "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer",
        "getty@tty1.service", "serial-getty@ttyS0.service", "getty-static.service",
        "systemd-networkd-wait-online.service", "systemd-pstore.service",
        "systemd-firstboot.service", "systemd-binfmt.service",
        "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
        "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "sys-kernel-config.mount",
        "dev-hugepages.mount", "sys-fs-fuse-connections.mount",
        "modprobe@drm.service", "modprobe@dm_mod.service", "modprobe@fuse.service",
        "modprobe@loop.service", "modprobe@configfs.service",
    ]

    /// systemd generators that find nothing in a particle but cost a process start each at
    /// every boot: no encrypted, integrity or verity volumes, no GPT, no hibernation image,
    /// no System V init scripts without a native unit, and no rc.local.
    static let disabledGenerators = [
        "systemd-cryptsetup-generator", "systemd-gpt-auto-generator",
        "systemd-hibernate-resume-generator", "systemd-integritysetup-generator",
        "systemd-veritysetup-generator", "systemd-system-update-generator",
        "systemd-sysv-generator", "systemd-rc-local-generator",
    ]

    /// `/etc/modprobe.d/particle.conf`: modules that udev would load for nothing.
    ///
    /// The `qemu64` CPU model advertises SVM, so udev loads kvm and kvm_amd (1.2 MB) although a
    /// guest cannot run nested guests under TCG.
    static let modprobeConfig = """
        blacklist kvm
        blacklist kvm_amd
        blacklist kvm_intel
        """

    /// ssh.service drop-in that skips the `sshd -t` syntax check, which costs a second process
    /// start under TCG. A broken configuration still makes sshd itself fail.
    static let sshServiceDropIn = """
        [Service]
        ExecStartPre=
        """

    /// Units that the builder enables.
    static let enabledUnits = [
        "particle-init.service", "particle-growfs.service", "particle-ready.service",
        "particle-agent.service",
    ]

    /// Everything above that ends up in an image, for `ImageBuilder.recipeDigest`.
    static let recipe: [String] =
        [
            initramfsInit, particleInit, agent, agentUnit, particleInitUnit, growUnit, readyUnit,
            sshdConfig, fstab, modprobeConfig, sshServiceDropIn,
        ] + maskedUnits + disabledGenerators + enabledUnits
}
