import Control
import Foundation

/// Checks on `memory_dir`, the folder where running guests' RAM files live.
///
/// A guest's RAM is a shared mapping of a file there that grows as the guest touches its
/// memory. On a full tmpfs the file cannot grow, and QEMU dies of SIGBUS at the guest's next
/// new page, so the VMM checks for room before it starts a guest.
public enum MemoryDirectory {
    /// Throws unless `path` is on a tmpfs, because on any other file system the guests' RAM
    /// would be written to a disk. Creates the folder (owner-only) if it is missing.
    public static func requireTmpfs(_ path: String) throws(ControlError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .invalidArgument("cannot create memory_dir \(path): \(error.localizedDescription)")
        }
        let folder = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        let type = fileSystemType(of: folder, mounts: mounts)
        guard type == "tmpfs" else {
            throw .invalidArgument(
                "memory_dir \(path) is on \(type ?? "an unknown file system"), not a tmpfs, so guests' RAM"
                    + " would be written to a disk; use a folder on a tmpfs such as /dev/shm/particle")
        }
    }

    /// Returns the type of the file system that contains `folder` (an absolute path without
    /// symbolic links): the one of the longest mount point above it in `mounts`, a text in the
    /// format of /proc/mounts.
    static func fileSystemType(of folder: String, mounts: String) -> String? {
        mounts.split(separator: "\n").compactMap { line -> (point: String, type: String)? in
            let fields = line.split(separator: " ")
            guard fields.count > 2 else { return nil }
            // /proc/mounts writes a space in a path as \040.
            let point = fields[1].replacingOccurrences(of: "\\040", with: " ")
            let covers = point == "/" || folder == point || folder.hasPrefix(point + "/")
            return covers ? (point, String(fields[2])) : nil
        }.max { $0.point.count < $1.point.count }?.type
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
        let free = try freeBytes(path)
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
