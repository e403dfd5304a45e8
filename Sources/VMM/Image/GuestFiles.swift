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
    /// - `timers ID` gets the reply `ok ID EPOCH kind=KIND name=NAME`: the next active systemd
    ///   timer (KIND `systemd`, NAME its unit) or cron job (KIND `cron`, NAME `FILE:LINE`),
    ///   whichever is due first, in seconds since the epoch, or `ok ID 0` for none.
    ///   `running-cron-job=PID` follows while a cron job runs. The host wakes a sleeping particle
    ///   at EPOCH and keeps an idle one awake while something is due or a cron job runs. Agents
    ///   of older images reply `ok ID EPOCH` for systemd timers alone;
    /// - `time ID SECONDS NANOSECONDS` sets the wall clock (after a wake, it is behind by the
    ///   length of the sleep) and makes cron look at the new time at once;
    /// - `entropy ID HEX` mixes the bytes into the kernel's pool and reseeds its random number
    ///   generator at once, so that two guests woken from one memory state never share it;
    /// - `identity ID` applies the config drive again (a guest restored from another's memory
    ///   takes its own name, address, MAC and keys) and restarts sshd with the new host key.
    ///
    /// It is perl because perl-base is in every Debian system, and one long-lived process
    /// answers in microseconds under TCG where starting a program costs tens of milliseconds.
    /// Two more modes run it outside a guest: `--next-cron ROOT NOW...` prints its replies to
    /// `timers` at each NOW for the crontabs under ROOT (for tests), and `--record-stock-cron ROOT` records
    /// the image's own cron entries, which are no reason to wake a particle (for the image
    /// builder).
    static let agent = #"""
        #!/usr/bin/perl
        # Particle guest agent: answers the host on ttyS1. See particle-agent in Particle's source.
        #
        #   particle-agent                          serve the host on /dev/ttyS1
        #   particle-agent --next-cron ROOT NOW...  print the reply to `timers` at each NOW (seconds
        #                                           since the epoch) for the crontabs under ROOT alone
        #   particle-agent --record-stock-cron ROOT record the cron entries of the image under ROOT
        use strict;
        use warnings;
        use POSIX ();

        my $device = '/dev/ttyS1';
        my $clock_settime = 227;       # x86_64 system call number
        my $add_entropy = 0x40085203;  # RNDADDENTROPY
        my $reseed = 0x5207;           # RNDRESEEDCRNG
        my $port;

        # Prefix of the crontabs and of /run/crond.pid: '' in a guest, a fixture folder in tests.
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

        # Cron jobs, as Debian's cron 3.0pl1 reads them: the user crontabs in /var/spool/cron/crontabs
        # (each named after a user in /etc/passwd), /etc/crontab and /etc/cron.d/* (names of letters,
        # digits, '_' and '-' only), whose lines have a user field after the five time fields. A job
        # runs in each minute whose minute, hour and month match and whose day matches: the day of
        # the month and the day of the week must both match when either field starts with '*', and
        # one of them is enough otherwise. cron 3.0pl1 runs every job in its own time zone, the
        # guest's local time, and passes CRON_TZ and TZ lines to the jobs as environment variables
        # only, so they do not change the times here. @reboot jobs never need a wake. A line that
        # cron would reject is skipped.
        #
        # Housekeeping: the image builder records the image's own entries in $stock_file: the job
        # lines of /etc/crontab and /etc/cron.d, and the scripts in /etc/cron.hourly, daily, weekly,
        # monthly and yearly. A job line still as recorded (whitespace aside) is no reason to wake a
        # particle, unless it runs run-parts on one of those folders and the folder now holds a
        # script that the image did not. A line that a user added or changed counts like any other.
        my $stock_file = '/usr/lib/particle/stock-cron';
        my $spool = '/var/spool/cron/crontabs';
        my @run_parts_folders = map { "/etc/cron.$_" } qw(hourly daily weekly monthly yearly);
        my $max_lines = 5000;  # per crontab; a longer file is read only this far

        my %keyword_times = (
            yearly => '0 0 1 1 *', annually => '0 0 1 1 *', monthly => '0 0 1 * *',
            weekly => '0 0 * * 0', daily => '0 0 * * *', midnight => '0 0 * * *',
            hourly => '0 * * * *',
        );
        my %month_numbers = (jan => 1, feb => 2, mar => 3, apr => 4, may => 5, jun => 6, jul => 7,
            aug => 8, sep => 9, oct => 10, nov => 11, dec => 12);
        my %weekday_numbers = (sun => 0, mon => 1, tue => 2, wed => 3, thu => 4, fri => 5, sat => 6);

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

        # The set of values that a time field allows (a hash), or undef if cron would reject it.
        # A single value with a step (`5/15`) counts as the range to the field's end, as in cronie;
        # cron 3.0pl1 may read it as the value alone, so this can only add a wake, never miss one.
        sub cron_field {
            my ($text, $low, $high, $names) = @_;
            my %values;
            for my $part (split(/,/, $text, -1)) {
                my ($range, $step) = $part =~ m{^([^/]+)(?:/(\d{1,3}))?$} or return undef;
                $step //= 1;
                return undef if $step == 0;
                my ($first, $last);
                if ($range eq '*') {
                    ($first, $last) = ($low, $high);
                } elsif ($range =~ /^(\w+)-(\w+)$/) {
                    ($first, $last) = (cron_value($1, $names), cron_value($2, $names));
                } else {
                    $first = cron_value($range, $names);
                    $last = $part =~ m{/} ? $high : $first;
                }
                return undef unless defined $first && defined $last;
                return undef unless $low <= $first && $first <= $last && $last <= $high;
                for (my $value = $first; $value <= $last; $value += $step) { $values{$value} = 1; }
            }
            return %values ? \%values : undef;
        }

        # A number, or a three-letter month or weekday name in any case.
        sub cron_value {
            my ($word, $names) = @_;
            return $word + 0 if $word =~ /^\d{1,3}$/;
            return $names ? $names->{lc $word} : undef;
        }

        # The job on a crontab line (already split into words), or undef for @reboot and for a line
        # that cron would reject.
        sub parse_cron_job {
            my ($text, $has_user) = @_;
            my @words = split(' ', $text);
            my @times;
            if ($words[0] =~ /^@(.*)$/) {
                my $times = $keyword_times{$1} // return undef;
                @times = split(' ', $times);
                shift(@words);
            } else {
                @times = splice(@words, 0, 5);
                return undef if @times < 5;
            }
            return undef if @words < ($has_user ? 2 : 1);
            my %job = (
                minutes => cron_field($times[0], 0, 59),
                hours => cron_field($times[1], 0, 23),
                days => cron_field($times[2], 1, 31),
                months => cron_field($times[3], 1, 12, \%month_numbers),
                weekdays => cron_field($times[4], 0, 7, \%weekday_numbers),
            );
            return undef if grep { !defined } values(%job);
            $job{weekdays}{0} = 1 if $job{weekdays}{7};
            $job{both_days} = $times[2] =~ /^\*/ || $times[4] =~ /^\*/;
            $job{fixed_time} = $times[0] !~ /^\*/ && $times[1] !~ /^\*/;
            $job{minute_list} = [sort { $a <=> $b } keys(%{$job{minutes}})];
            $job{hour_list} = [sort { $a <=> $b } keys(%{$job{hours}})];
            $job{day_list} = [sort { $a <=> $b } keys(%{$job{days}})];
            $job{month_list} = [sort { $a <=> $b } keys(%{$job{months}})];
            # A job for a day that no month of the job has (31 April) never runs.
            my @month_days = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31);
            $job{possible} = !$job{both_days}
                || grep { $job{day_list}[0] <= $month_days[$_ - 1] } @{$job{month_list}};
            return \%job;
        }

        sub day_matches {
            my ($job, $day, $weekday) = @_;
            my ($day_ok, $weekday_ok) = ($job->{days}{$day}, $job->{weekdays}{$weekday});
            return $job->{both_days} ? $day_ok && $weekday_ok : $day_ok || $weekday_ok;
        }

        # The start of the first minute at or after $from (the start of a minute) in which the job
        # runs, or undef if it runs in none of the next eight years (29 February can be eight years
        # away). It jumps to the next allowed month, day and hour, reading the local time after
        # each jump, so a search takes a few steps, not one per minute, and follows daylight
        # saving time. When the clock skips an hour, cron runs the fixed-time jobs of that hour
        # right after the jump.
        # NOTE: jobs in an hour that repeats when daylight saving time ends count twice here, but
        # cron runs the fixed-time ones once, so such a job can wake the particle for nothing.
        sub next_cron_run {
            my ($job, $from) = @_;
            return undef unless $job->{possible};
            my $limit = $from + 8 * 366 * 86400;
            my $time = $from;
            for (my $steps = 0; $time < $limit && $steps < 5000; $steps++) {
                my ($second, $minute, $hour, $day, $month, $year, $weekday) = localtime($time);
                my $next;
                if (!$job->{months}{$month + 1}) {
                    my ($later) = grep { $_ > $month + 1 } @{$job->{month_list}};
                    $next = defined $later
                        ? POSIX::mktime(0, 0, 0, 1, $later - 1, $year, 0, 0, -1)
                        : POSIX::mktime(0, 0, 0, 1, $job->{month_list}[0] - 1, $year + 1, 0, 0, -1);
                } elsif (!day_matches($job, $day, $weekday)) {
                    my $later = next_cron_day($job, $day, $weekday, $month, $year);
                    $next = POSIX::mktime(0, 0, 0, $later, $month, $year, 0, 0, -1);
                } else {
                    my ($at) = grep { $_ >= $minute } @{$job->{minute_list}};
                    return $time - $second + 60 * ($at - $minute) if $job->{hours}{$hour} && defined $at;
                    my ($later) = grep { $_ > $hour } @{$job->{hour_list}};
                    if (!defined $later) {
                        $next = POSIX::mktime(0, 0, 0, $day + 1, $month, $year, 0, 0, -1);
                    } else {
                        my $start_of_hour = $time - $second - 60 * $minute;
                        $next = $start_of_hour + 3600 * ($later - $hour);
                        # A daylight saving change on the way: go one hour at a time instead.
                        $next = $start_of_hour + 3600 if (localtime($next))[2] != $later;
                        my $next_hour = (localtime($next))[2];
                        my @skipped = grep { $_ > $hour && $_ < $next_hour } @{$job->{hour_list}};
                        return $next if @skipped && $job->{fixed_time};
                    }
                }
                return undef unless defined $next;
                $time = $next > $time ? $next : $time + 60;
            }
            return undef;
        }

        # The next day of the month after $day that can match: with both day fields required, no
        # earlier than the next allowed day of the month and the next allowed weekday, otherwise
        # the earlier of the two. Past the month's end, the first day of the next month.
        sub next_cron_day {
            my ($job, $day, $weekday, $month, $year) = @_;
            my ($by_date) = grep { $_ > $day } @{$job->{day_list}};
            $by_date //= 32;
            my @ahead = map { ($_ - $weekday + 6) % 7 + 1 } keys(%{$job->{weekdays}});
            my $by_weekday = $day + (sort { $a <=> $b } @ahead)[0];
            my $later = $job->{both_days}
                ? ($by_date > $by_weekday ? $by_date : $by_weekday)
                : ($by_date < $by_weekday ? $by_date : $by_weekday);
            my $calendar_year = $year + 1900;
            my $leap = ($calendar_year % 4 == 0 && $calendar_year % 100 != 0) || $calendar_year % 400 == 0;
            my $length = (31, $leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[$month];
            return $later <= $length ? $later : $length + 1;
        }

        # The recorded entries of the image, as a set of "job\tFILE\tTEXT" and "script\tPATH" lines.
        sub stock_cron {
            open(my $file, '<', $root . $stock_file) or return {};
            my %stock = map { chomp; $_ => 1 } <$file>;
            close($file);
            return \%stock;
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
            open(my $file, '>', $root . $stock_file)
                or die "particle-agent: writing $root$stock_file failed: $!\n";
            print $file "$_\n" for @entries;
            close($file) or die "particle-agent: writing $root$stock_file failed: $!\n";
        }

        sub is_housekeeping {
            my ($path, $text, $stock) = @_;
            return 0 unless $stock->{"job\t$path\t$text"};
            for my $folder (grep { $text =~ m{\brun-parts\b.*\Q$_\E\b} } @run_parts_folders) {
                return 0 if grep { !$stock->{"script\t$folder/$_"} } run_parts_scripts($folder);
            }
            return 1;
        }

        # The parsed lines of each crontab by path, with the file's status when it was read: the
        # agent answers many `timers` requests, and parsing costs tens of milliseconds under TCG.
        my %parsed_crontabs;

        # The lines of a crontab as [LINE NUMBER, TEXT, JOB], JOB undef where cron rejects the
        # line; parsed again only when the file changes.
        sub crontab_entries {
            my ($path, $has_user) = @_;
            my @status = stat($root . $path) or return ();
            my $signature = join(':', @status[0, 1, 7, 9, 10]);  # device, inode, size, times
            my $cached = $parsed_crontabs{$path};
            return @{$cached->{entries}} if $cached && $cached->{signature} eq $signature;
            my @entries;
            for my $line (crontab_lines($path)) {
                my ($number, $text) = @$line;
                my $job = parse_cron_job($text, $has_user);
                $job->{source} = "$path:$number" if $job;
                push(@entries, [$number, $text, $job]);
            }
            $parsed_crontabs{$path} = { signature => $signature, entries => \@entries };
            return @entries;
        }

        # Every job that can wake the particle, each with its source ("FILE:LINE").
        sub cron_jobs {
            my @jobs;
            my %users;
            if (open(my $passwd, '<', "$root/etc/passwd")) {
                %users = map { (split(/:/, $_))[0] => 1 } <$passwd>;
                close($passwd);
            }
            my @crontabs = map { ["$spool/$_", 0] } grep { $users{$_} } folder_entries($spool);
            push(@crontabs, map { [$_, 1] } system_crontabs());
            my $stock = stock_cron();
            for my $crontab (@crontabs) {
                my ($path, $has_user) = @$crontab;
                for my $entry (crontab_entries($path, $has_user)) {
                    my ($number, $text, $job) = @$entry;
                    next if !$job || ($has_user && is_housekeeping($path, $text, $stock));
                    push(@jobs, $job);
                }
            }
            my %current = map { $_->[0] => 1 } @crontabs;
            delete @parsed_crontabs{grep { !$current{$_} } keys(%parsed_crontabs)};
            return @jobs;
        }

        # The process id of the cron daemon, from its pid file, or undef when it does not run.
        sub cron_daemon {
            my $pid = first_line("$root/run/crond.pid") // return undef;
            return undef unless $pid =~ /^\s*(\d+)\s*$/;
            return (first_line("/proc/$1/comm") // '') eq 'cron' ? $1 : undef;
        }

        # The earliest cron job due from the start of the current minute on, as (EPOCH, 'cron',
        # FILE:LINE), or () for none. A job counts as due until its minute ends, because cron starts
        # it within that minute: a second into it, or a second after a wake (nudge_cron).
        # NOTE: a job that runs every minute keeps the particle awake.
        sub next_cron_job {
            my ($now) = @_;
            my $from = $now - (localtime($now))[0];
            # A job's last result holds until its time passes, unless the time zone changed.
            my $zone = join(':', $ENV{TZ} // '', (stat('/etc/localtime'))[1, 9]);
            my ($earliest, $source);
            for my $job (cron_jobs()) {
                my $memo = $job->{memo};
                my $valid = $memo && $memo->{zone} eq $zone && $memo->{from} <= $from
                    && (!defined $memo->{at} || $from <= $memo->{at});
                my $at = $valid ? $memo->{at} : next_cron_run($job, $from);
                $job->{memo} = { zone => $zone, from => $from, at => $at } unless $valid;
                next unless defined $at;
                ($earliest, $source) = ($at, $job->{source}) if !defined $earliest || $at < $earliest;
            }
            return defined $earliest ? ($earliest, 'cron', $source) : ();
        }

        # The process id of a cron job that runs now (a child of the cron daemon), or undef.
        sub running_cron_job {
            my $daemon = cron_daemon() // return undef;
            my ($child) = split(' ', first_line("/proc/$daemon/task/$daemon/children") // '');
            return $child;
        }

        # Makes cron look at the clock now. After a wake the clock jumps forward, but cron still
        # sleeps until its next minute as it counted before the sleep; SIGHUP ends that sleep (cron
        # 3.0pl1 then only reopens its log), so it runs the current minute's jobs at once.
        sub nudge_cron {
            my $daemon = cron_daemon() // return;
            kill('HUP', $daemon);
        }

        # The words of the reply to `timers`: the next systemd timer or cron job as
        # `EPOCH kind=KIND name=NAME`, or 0 for none, then `running-cron-job=PID` while a cron job
        # runs. `@timer` is the next systemd timer; tests leave it out.
        sub timers_reply {
            my ($now, @timer) = @_;
            my @next = @timer;
            my @cron = eval { next_cron_job($now) };
            warn "particle-agent: reading the crontabs failed: $@" if $@;
            @next = @cron if @cron && (!@next || $cron[0] < $next[0]);
            my @words = @next ? ($next[0], "kind=$next[1]", "name=$next[2]") : (0);
            my $running = eval { running_cron_job() };
            push(@words, "running-cron-job=$running") if $running;
            return @words;
        }

        sub handle {
            my ($command, $id, @arguments) = split(/ /, shift);
            return unless defined $id;
            if ($command eq 'ping') {
                reply('ok', $id);
            } elsif ($command eq 'sync') {
                system('sync') == 0 ? reply('ok', $id) : reply('error', $id, 'sync failed');
            } elsif ($command eq 'timers') {
                reply('ok', $id, timers_reply(time(), next_timer()));
            } elsif ($command eq 'time' && "@arguments" =~ /^(\d+) (\d+)$/) {
                my $moment = pack('q<q<', $1, $2);
                syscall($clock_settime, 0, $moment) == 0
                    or return reply('error', $id, "clock_settime: $!");
                # cron is nudged a second later (SIGALRM), so that its work stays off the guest's
                # only vCPU while the request that woke the guest is served.
                alarm(1);
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
            local $SIG{ALRM} = sub { nudge_cron() };
            my $buffer = '';
            while (1) {
                my $count = sysread($port, $buffer, 4096, length($buffer));
                next if !defined($count) && $!{EINTR};  # the alarm of a nudge
                die "reading $device failed: $!\n" unless $count;
                while ($buffer =~ s/^([^\n]*)\n//) {
                    (my $line = $1) =~ s/\r\z//;
                    handle($line);
                }
            }
        }

        # The root folder argument of the test and build modes, without a trailing slash.
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
        } elsif ($ARGV[0] eq '--next-cron' && @ARGV >= 3) {
            $root = root_argument($ARGV[1]);
            for my $now (@ARGV[2 .. $#ARGV]) {
                die "particle-agent: invalid NOW '$now'; pass seconds since the epoch\n"
                    unless $now =~ /^\d+$/;
                print(join(' ', timers_reply($now)), "\n");
            }
        } elsif ($ARGV[0] eq '--record-stock-cron' && @ARGV == 2) {
            $root = root_argument($ARGV[1]);
            record_stock_cron();
        } else {
            die "usage: particle-agent [--next-cron ROOT NOW... | --record-stock-cron ROOT]\n";
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
