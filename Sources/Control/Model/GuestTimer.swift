import Foundation

/// A systemd timer or cron job in a guest, as its agent reports it.
public struct GuestTimer: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case systemd
        case cron
    }

    /// When it is next due; a cron job counts as due from the start of its minute.
    public var due: Date
    /// nil from the agents of images made before cron support, which report no kind.
    public var kind: Kind?
    /// The timer's unit, or the crontab and line of the job as `FILE:LINE`.
    public var name: String?

    public init(due: Date, kind: Kind? = nil, name: String? = nil) {
        self.due = due
        self.kind = kind
        self.name = name
    }

    /// The timer for logs and `why-awake`, for example "cron job /var/spool/cron/crontabs/root:1".
    public var description: String {
        let label: String
        switch kind {
        case .systemd: label = "systemd timer"
        case .cron: label = "cron job"
        case nil: label = "timer"
        }
        return name.map { "\(label) \($0)" } ?? label
    }
}

/// What a guest's agent reports about its timers, asked before the guest sleeps.
public struct GuestTimers: Sendable, Equatable {
    /// The next systemd timer or cron job; nil for none.
    public var next: GuestTimer?
    /// The process id of a cron job that runs now, if one does.
    public var runningCronJob: Int?

    public init(next: GuestTimer? = nil, runningCronJob: Int? = nil) {
        self.next = next
        self.runningCronJob = runningCronJob
    }

    /// Whether the guest should stay awake at `now`: a timer is due within `slack`, or a cron
    /// job runs.
    public func keepAwake(at now: Date, slack: TimeInterval = 2) -> Bool {
        if runningCronJob != nil { return true }
        guard let next else { return false }
        return next.due <= now.addingTimeInterval(slack)
    }

    /// Parses the words after `ok ID` of the agent's reply to `timers`: `EPOCH`, then optional
    /// `kind=KIND`, `name=NAME` and `running-cron-job=PID`.
    ///
    /// The guest controls the reply, so unknown words are skipped, and a name with characters
    /// outside those of unit names and file paths, or longer than 200 characters, is dropped.
    public init(reply words: [String]) {
        self.init()
        var fields: [String: String] = [:]
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else { continue }
            fields[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        if let seconds = words.first.flatMap(Int64.init), seconds > 0 {
            let name = fields["name"].flatMap { Self.isPrintableName($0) ? $0 : nil }
            next = GuestTimer(
                due: Date(timeIntervalSince1970: TimeInterval(seconds)),
                kind: fields["kind"].flatMap(GuestTimer.Kind.init), name: name)
        }
        runningCronJob = fields["running-cron-job"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
    }

    private static func isPrintableName(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@:/\\+")
        return !name.isEmpty && name.count <= 200 && name.allSatisfy(allowed.contains)
    }
}
