/// The line being typed at the interactive prompt: its text, the cursor and the history.
///
/// It only changes state; `render(columns:)` returns the bytes that redraw the line.
/// NOTE: every character is taken to be one column wide, so East Asian wide characters and
/// emoji misplace the cursor on the screen (the text itself stays right).
struct LineEditor {
    /// What the prompt should do after a key.
    enum Action: Equatable {
        /// Redraw the line.
        case redraw
        /// Run the line (Enter).
        case submit(String)
        /// Drop the line and start a new one (Ctrl-C).
        case cancel
        /// Leave the prompt (Ctrl-D on an empty line).
        case exit
        /// Complete the word before the cursor (Tab).
        case complete
        /// Clear the screen, then redraw (Ctrl-L).
        case clearScreen
    }

    let prompt: String
    private(set) var text: [Character] = []
    private(set) var cursor = 0
    /// Earlier lines, oldest first.
    private(set) var history: [String] = []
    /// The history entry shown, or nil while editing a new line.
    private var historyIndex: Int?
    /// The new line being typed when the user went up into the history.
    private var draft: [Character] = []
    /// The first character shown, when the line is wider than the terminal.
    private var scroll = 0
    let maxHistory: Int

    init(prompt: String, maxHistory: Int = 500) {
        self.prompt = prompt
        self.maxHistory = maxHistory
    }

    var line: String { String(text) }

    /// Applies one key and returns what the prompt should do next.
    mutating func handle(_ key: Key) -> Action {
        switch key {
        case .character(let character):
            text.insert(character, at: cursor)
            cursor += 1
        case .enter:
            let submitted = line
            remember(submitted)
            reset()
            return .submit(submitted)
        case .backspace:
            guard cursor > 0 else { return .redraw }
            cursor -= 1
            text.remove(at: cursor)
        case .delete:
            if cursor < text.count { text.remove(at: cursor) }
        case .endOfFile:
            guard !text.isEmpty else { return .exit }
            if cursor < text.count { text.remove(at: cursor) }
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(text.count, cursor + 1)
        case .wordLeft: cursor = wordStart(before: cursor)
        case .wordRight: cursor = wordEnd(after: cursor)
        case .home: cursor = 0
        case .end: cursor = text.count
        case .up: showHistory(offset: -1)
        case .down: showHistory(offset: 1)
        case .deleteToStart:
            text.removeSubrange(0..<cursor)
            cursor = 0
        case .deleteToEnd:
            text.removeSubrange(cursor...)
        case .deleteWordBackward:
            let start = wordStart(before: cursor)
            text.removeSubrange(start..<cursor)
            cursor = start
        case .interrupt:
            reset()
            return .cancel
        case .clearScreen:
            return .clearScreen
        case .complete:
            return .complete
        }
        return .redraw
    }

    /// Replaces the text from `start` to the cursor with `replacement`, for completion.
    mutating func replace(from start: Int, with replacement: String) {
        text.replaceSubrange(start..<cursor, with: Array(replacement))
        cursor = start + replacement.count
    }

    /// The word before the cursor and where it starts, for completion.
    var wordBeforeCursor: (start: Int, word: String) {
        var start = cursor
        while start > 0 && text[start - 1] != " " { start -= 1 }
        return (start, String(text[start..<cursor]))
    }

    /// The complete words before the one at the cursor.
    var wordsBeforeCursor: [String] {
        String(text[..<wordBeforeCursor.start]).split(separator: " ").map(String.init)
    }

    /// Returns the bytes that redraw the prompt and the line, and put the cursor in place.
    ///
    /// A line wider than the terminal scrolls sideways, so that it always fits on one row.
    mutating func render(columns: Int) -> [UInt8] {
        let width = max(1, columns - prompt.count - 1)
        if cursor < scroll { scroll = cursor }
        if cursor > scroll + width { scroll = cursor - width }
        scroll = max(0, min(scroll, max(0, text.count - width)))
        let visible = text[scroll..<min(text.count, scroll + width)]
        var output = "\r" + prompt + String(visible) + "\u{1B}[K"
        let column = prompt.count + cursor - scroll
        output += "\r"
        if column > 0 { output += "\u{1B}[\(column)C" }
        return Array(output.utf8)
    }

    private mutating func reset() {
        text = []
        cursor = 0
        scroll = 0
        historyIndex = nil
        draft = []
    }

    private mutating func remember(_ line: String) {
        guard !line.allSatisfy(\.isWhitespace), history.last != line else { return }
        history.append(line)
        if history.count > maxHistory { history.removeFirst(history.count - maxHistory) }
    }

    /// Moves through the history: -1 is older, +1 newer; past the newest entry is the draft.
    private mutating func showHistory(offset: Int) {
        guard !history.isEmpty else { return }
        let current = historyIndex ?? history.count
        let target = min(max(current + offset, 0), history.count)
        guard target != current else { return }
        if historyIndex == nil { draft = text }
        if target == history.count {
            historyIndex = nil
            text = draft
        } else {
            historyIndex = target
            text = Array(history[target])
        }
        cursor = text.count
    }

    private func wordStart(before position: Int) -> Int {
        var index = position
        while index > 0 && text[index - 1] == " " { index -= 1 }
        while index > 0 && text[index - 1] != " " { index -= 1 }
        return index
    }

    private func wordEnd(after position: Int) -> Int {
        var index = position
        while index < text.count && text[index] == " " { index += 1 }
        while index < text.count && text[index] != " " { index += 1 }
        return index
    }
}
