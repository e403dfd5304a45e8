import Control

/// One SSH command line, split into words the way a POSIX shell splits them.
///
/// OpenSSH joins the client's arguments with spaces, so the server receives one string. Single and
/// double quotes and backslashes group words. For `exec`, the text after ` -- ` is kept as
/// written, because it is a command for the guest's shell.
struct CommandLine: Equatable {
    var words: [String]
    /// The raw text after the first standalone `--`, if there is one.
    var rest: String?

    init(parsing text: String) throws(ControlError) {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        var rest: String?
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            defer { if index < text.endIndex { index = text.index(after: index) } }
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\" && open == "\"" {
                    escaped = true
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case "\\":
                escaped = true
                inWord = true
            case "'", "\"":
                quote = character
                inWord = true
            case " ", "\t", "\n":
                if inWord {
                    if current == "--" && rest == nil {
                        let after = text[text.index(after: index)...]
                        rest = String(after).trimmingCharacters(in: .whitespaces)
                        self.words = words
                        self.rest = rest
                        return
                    }
                    words.append(current)
                    current = ""
                    inWord = false
                }
            default:
                current.append(character)
                inWord = true
            }
        }
        guard quote == nil else {
            throw .invalidArgument("unterminated \(quote!) quote in command; close the quote")
        }
        if inWord {
            if current == "--" {
                rest = ""
            } else {
                words.append(current)
            }
        }
        self.words = words
        self.rest = rest
    }
}

/// The arguments of one command: positional words plus `--flag`, `-f` and `--option value` forms.
struct Arguments {
    var positional: [String] = []
    var flags: Set<String> = []
    var options: [String: String] = [:]
    var rest: String?

    /// Splits `words`; `valueOptions` names the options that take a value (`--size p2`, or
    /// `--size=p2`); every other `--word` is a flag and must be in `knownFlags`. `shortFlags`
    /// maps one-letter flags to their long names (`-f` to `follow`).
    ///
    /// OpenSSH joins a client's arguments with spaces, so a value typed in quotes on the client
    /// arrives as several words. For an option in `valueContinuations`, the function returns
    /// how many of the words after the value's first word continue it, and those words join
    /// the value with single spaces.
    init(
        _ words: ArraySlice<String>, rest: String?, valueOptions: Set<String> = [],
        valueContinuations: [String: @Sendable (String, ArraySlice<String>) -> Int] = [:],
        knownFlags: Set<String> = [], shortFlags: [Character: String] = [:], command: String
    ) throws(ControlError) {
        self.rest = rest
        var remaining = words
        while let word = remaining.popFirst() {
            if word.count == 2, word.hasPrefix("-"), let letter = word.last, letter.isLetter {
                guard let name = shortFlags[letter] else {
                    throw .invalidArgument(
                        "unknown option \(word) for \(command); see `help \(command)`")
                }
                flags.insert(name)
                continue
            }
            guard word.hasPrefix("--"), word.count > 2 else {
                positional.append(word)
                continue
            }
            var name = String(word.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if valueOptions.contains(name) {
                guard var given = value ?? remaining.popFirst() else {
                    throw .invalidArgument(
                        "missing value for --\(name); see `help \(command)`")
                }
                guard options[name] == nil else {
                    throw .invalidArgument("--\(name) is given twice; give it once")
                }
                if let continuation = valueContinuations[name] {
                    let count = continuation(given, remaining)
                    given = ([given] + remaining.prefix(count)).joined(separator: " ")
                    remaining = remaining.dropFirst(count)
                }
                options[name] = given
            } else if knownFlags.contains(name) || name == "json" {
                flags.insert(name)
            } else {
                throw .invalidArgument("unknown option --\(name) for \(command); see `help \(command)`")
            }
        }
    }

    /// Returns positional argument `index`, or a usage error naming it.
    func required(_ index: Int, _ name: String, usage: String) throws(ControlError) -> String {
        guard index < positional.count else {
            throw .invalidArgument("missing \(name); usage: \(usage)")
        }
        return positional[index]
    }

    /// Rejects positional arguments past `count`.
    func expectAtMost(_ count: Int, usage: String) throws(ControlError) {
        guard positional.count <= count else {
            throw .invalidArgument(
                "unexpected argument '\(positional[count])'; usage: \(usage)")
        }
    }
}
