import Foundation
import Testing

@testable import Control

/// Parsing of the guest agent's reply to `timers`, which the guest controls.
@Suite struct GuestTimerTests {
    @Test func replyWithCronJob() {
        let timers = GuestTimers(reply: ["1800000060", "kind=cron", "name=/var/spool/cron/crontabs/root:3"])
        #expect(timers.next?.due == Date(timeIntervalSince1970: 1_800_000_060))
        #expect(timers.next?.kind == .cron)
        #expect(timers.next?.description == "cron job /var/spool/cron/crontabs/root:3")
        #expect(timers.runningCronJob == nil)
    }

    @Test func replyWithSystemdTimer() {
        let timers = GuestTimers(reply: ["1800000060", "kind=systemd", "name=run-r0a1\\x2db.timer"])
        #expect(timers.next?.description == "systemd timer run-r0a1\\x2db.timer")
    }

    @Test func replyOfOlderAgent() {
        let timers = GuestTimers(reply: ["1800000060"])
        #expect(timers.next == GuestTimer(due: Date(timeIntervalSince1970: 1_800_000_060)))
        #expect(timers.next?.description == "timer")
        #expect(GuestTimers(reply: ["0"]) == GuestTimers())
        #expect(GuestTimers(reply: []) == GuestTimers())
    }

    @Test func replyWithRunningCronJob() {
        let timers = GuestTimers(reply: ["0", "running-cron-job=812"])
        #expect(timers.next == nil)
        #expect(timers.runningCronJob == 812)
        #expect(timers.keepAwake(at: Date(timeIntervalSince1970: 1_800_000_000)))
    }

    @Test func replyWithInvalidWords() {
        let long = String(repeating: "a", count: 201)
        let cases: [[String]] = [
            ["1800000060", "kind=at", "name=$(reboot)", "running-cron-job=-5", "stray"],
            ["1800000060", "name=\(long)", "running-cron-job=x"],
            ["1800000060", "name=", "name"],
        ]
        for words in cases {
            let timers = GuestTimers(reply: words)
            #expect(timers.next == GuestTimer(due: Date(timeIntervalSince1970: 1_800_000_060)), "\(words)")
            #expect(timers.runningCronJob == nil, "\(words)")
        }
        #expect(GuestTimers(reply: ["99999999999999999999999", "kind=cron"]).next == nil)
        #expect(GuestTimers(reply: ["-60", "kind=cron"]).next == nil)
        #expect(GuestTimers(reply: ["soon"]).next == nil)
    }

    @Test func keepAwakeWhileDue() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let timer = { (offset: TimeInterval) in
            GuestTimers(next: GuestTimer(due: now.addingTimeInterval(offset), kind: .cron))
        }
        #expect(timer(-30).keepAwake(at: now))
        #expect(timer(1).keepAwake(at: now))
        #expect(!timer(10).keepAwake(at: now))
        #expect(!GuestTimers().keepAwake(at: now))
    }
}
