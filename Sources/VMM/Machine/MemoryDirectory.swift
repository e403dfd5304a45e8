import Control
import Foundation

/// The folder where running guests' RAM files are made (`memory_dir`), which must be a tmpfs:
/// a guest's RAM must never be written to a disk while it runs.
///
/// A guest's RAM file grows as the guest touches its memory. On a full tmpfs the file cannot
/// grow, and QEMU dies of SIGBUS at the guest's next new page, so the VMM checks for room
/// before it starts a guest.
///
/// With `memory_huge_pages`, particled mounts a tmpfs of its own there with huge pages
/// (`huge=within_size`), unless a tmpfs is mounted exactly there already, and leaves it mounted
/// when it exits, since the guests it started keep running on it. Huge pages copy a wake's RAM
/// 2.6 times faster when the host has free memory at hand. In a VM whose hypervisor takes
/// back free memory (free page reporting), fresh 2 MiB pages fault in slowly and made wakes
/// slower and uneven, so the option is off by default.
public enum MemoryDirectory {
    /// One line of /proc/mounts.
    struct Mount: Equatable {
        var point: String
        var type: String
        var options: [String]
    }

    /// Makes `path` ready for RAM files and returns a sentence for the log that describes it.
    /// Throws when it is not on a tmpfs and no tmpfs can be mounted there.
    public static func prepare(_ path: String, hugePages: Bool) throws(ControlError) -> String {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .invalidArgument("cannot create memory_dir \(path): \(error.localizedDescription)")
        }
        let folder = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let covering = mount(covering: folder, in: readMounts())
        guard hugePages else {
            guard covering?.type == "tmpfs" else { throw notTmpfs(path, type: covering?.type, mounting: false) }
            return "memory_dir \(path) is on a tmpfs"
        }
        if let covering, covering.point == folder {
            guard covering.type == "tmpfs" else { throw notTmpfs(path, type: covering.type, mounting: true) }
            let huge = covering.options.contains { $0.hasPrefix("huge=") && $0 != "huge=never" }
            return huge
                ? "memory_dir \(path) is a tmpfs with huge pages"
                : "memory_dir \(path) is a tmpfs without huge pages (mount it with huge=within_size for faster wakes)"
        }
        let empty = (try? FileManager.default.contentsOfDirectory(atPath: folder))?.isEmpty ?? false
        if empty, mountTmpfs(at: folder) {
            return "mounted a tmpfs with huge pages on memory_dir \(path)"
        }
        guard covering?.type == "tmpfs" else { throw notTmpfs(path, type: covering?.type, mounting: true) }
        return "memory_dir \(path) is on a tmpfs without huge pages (could not mount one of its own there)"
    }

    private static func notTmpfs(_ path: String, type: String?, mounting: Bool) -> ControlError {
        let fix = mounting
            ? ", and particled could not mount one there, so guests' RAM would be written to a disk; use"
                + " an empty folder that particled can mount a tmpfs on, or a folder on a tmpfs such as /dev/shm/particle"
            : ", so guests' RAM would be written to a disk; use a folder on a tmpfs such as"
                + " /dev/shm/particle, or set memory_huge_pages to let particled mount one"
        return ControlError.invalidArgument(
            "memory_dir \(path) is on \(type ?? "an unknown file system"), not a tmpfs" + fix)
    }

    /// Mounts a tmpfs sized like the host's memory (it only takes what its files hold) on
    /// `folder`, owner-only, with huge pages.
    private static func mountTmpfs(at folder: String) -> Bool {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return false }
        let options = "mode=0700,huge=within_size,size=\(pages * pageSize)"
        let flags = UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC)
        return Glibc.mount("particle-memory", folder, "tmpfs", flags, options) == 0
    }

    /// Returns the type of the file system that contains `folder` (an absolute path without
    /// symbolic links), given `mounts` in the format of /proc/mounts.
    static func fileSystemType(of folder: String, mounts: String) -> String? {
        mount(covering: folder, in: parseMounts(mounts))?.type
    }

    static func readMounts() -> [Mount] {
        parseMounts((try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? "")
    }

    static func parseMounts(_ text: String) -> [Mount] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 3 else { return nil }
            return Mount(
                point: fields[1].replacingOccurrences(of: "\\040", with: " "), type: String(fields[2]),
                options: fields[3].split(separator: ",").map(String.init))
        }
    }

    /// Returns the mount that contains `folder`: the last one mounted on the longest mount point above it.
    static func mount(covering folder: String, in mounts: [Mount]) -> Mount? {
        var best: Mount?
        for mount in mounts where mount.point == "/" || folder == mount.point || folder.hasPrefix(mount.point + "/") {
            if mount.point.count >= (best?.point.count ?? 0) { best = mount }
        }
        return best
    }

    /// Returns the bytes that an unprivileged writer can still add to the file system of `path`.
    static func freeBytes(_ path: String) throws(ControlError) -> UInt64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else {
            throw .internal("reading the free space of memory_dir \(path) failed", detail: String(cString: strerror(errno)))
        }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// Throws `unavailable` when `path` has less free space than a guest with `memoryBytes` of
    /// RAM may fill. Creates the folder if it is missing.
    ///
    /// NOTE: guests that run already may still grow their RAM files into the free space, so
    /// passing this check does not reserve it.
    public static func requireRoom(_ path: String, memoryBytes: UInt64) throws(ControlError) {
        try? FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // A QEMU that just quit (a sleep that returned) frees its RAM file's pages a few hundred
        // milliseconds after it exits, so a short wait separates that case from a full tmpfs.
        let deadline = ContinuousClock.now + .seconds(2)
        var free = try freeBytes(path)
        while free < memoryBytes && ContinuousClock.now < deadline {
            usleep(100_000)
            free = try freeBytes(path)
        }
        guard free < memoryBytes else { return }
        throw .unavailable(
            "not enough room in memory_dir \(path) for the guest's RAM: \(formatBytes(free)) free,"
                + " \(formatBytes(memoryBytes)) needed; the operator can give that tmpfs more room"
                + " (mount -o remount,size=...), or stop or sleep other particles first")
    }

    /// Formats a byte count in binary units with one decimal: "512 MiB", "1.5 GiB".
    static func formatBytes(_ bytes: UInt64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 || value == value.rounded() { return "\(Int(value)) \(units[unit])" }
        return "\(String(format: "%.1f", value)) \(units[unit])"
    }
}
