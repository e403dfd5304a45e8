import CCurl
import Control
import Foundation
import Support

/// Sends email over SMTP to a relay, through libcurl.
///
/// `smtp://` URLs upgrade with STARTTLS when the relay offers it. They require it when a
/// username is configured, so that credentials never cross the network in clear text.
/// `smtps://` URLs use TLS from the start.
public struct SMTPMailer: Mailer {
    let url: String
    let from: String
    let username: String?
    let password: String?

    /// `url` is like `smtp://127.0.0.1:2525`; `from` is the sender address of every message.
    public init(url: String, from: String, username: String? = nil, password: String? = nil) {
        self.url = url
        self.from = from
        self.username = username
        self.password = password
    }

    public func send(_ message: MailMessage) async throws {
        let transfer = CurlTransfer(
            url: url, protocols: "smtp,smtps", mailFrom: "<\(from)>",
            mailRecipients: ["<\(message.to)>"],
            upload: Array(Self.format(message, from: from, date: Date()).utf8), username: username,
            password: password, useSSL: username == nil ? CURLUSESSL_TRY : CURLUSESSL_ALL)
        let response = try await onNewThread(name: "smtp") { try transfer.perform() }
        guard (200..<300).contains(response.code) else {
            throw CurlError(code: 0, message: "the SMTP relay replied \(response.code)")
        }
    }

    /// Formats the message in RFC 5322 form with CRLF line ends. libcurl adds the SMTP
    /// dot-stuffing.
    static func format(_ message: MailMessage, from: String, date: Date) -> String {
        let domain = from.split(separator: "@").last.map(String.init) ?? "localhost"
        let lines =
            [
                "Date: \(rfc5322Date(date))",
                "From: \(from)",
                "To: \(message.to)",
                "Subject: \(message.subject)",
                "Message-ID: <\(UUID().uuidString.lowercased())@\(domain)>",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit",
                "",
            ]
            + message.body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Formats `date` in UTC as RFC 5322 section 3.3 writes it: `Fri, 06 Mar 2026 15:00:00 +0000`.
    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
