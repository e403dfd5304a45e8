import Foundation

/// Validation of recovery email addresses.
///
/// Accepts the common form `local@domain` (RFC 5321 dot-atom local part, DNS domain of at least
/// two labels, ASCII only), which also rules out the CR and LF that could inject mail headers.
/// Quoted local parts and address literals are rejected.
public enum EmailAddress {
    private static let localCharacters = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.")

    /// Returns `text` trimmed of surrounding whitespace, or throws an error naming the address.
    public static func validate(_ text: String) throws(ControlError) -> String {
        let address = text.trimmingCharacters(in: .whitespaces)
        func invalid(_ reason: String) -> ControlError {
            .invalidArgument(
                "invalid email '\(address)': \(reason); use an address like you@example.com")
        }
        guard !address.isEmpty else {
            throw .invalidArgument("missing email; use an address like you@example.com")
        }
        guard address.utf8.count <= 254 else { throw invalid("longer than 254 characters") }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw invalid("it must contain exactly one @") }
        let local = parts[0]
        let domain = parts[1]
        guard !local.isEmpty, local.utf8.count <= 64, local.allSatisfy(localCharacters.contains),
            !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..")
        else {
            throw invalid("the part before @ is not a valid mailbox name")
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        let validLabels = labels.allSatisfy { label in
            (1...63).contains(label.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
        guard labels.count >= 2, validLabels else {
            throw invalid("'\(domain)' is not a valid domain name")
        }
        return address
    }
}
