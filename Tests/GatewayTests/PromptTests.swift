import Testing

@testable import Gateway

@Suite struct KeyDecoderTests {
    @Test func textAndControlKeys() {
        var decoder = KeyDecoder()
        let keys = decoder.decode(Array("ab\u{7F}\u{01}\u{05}\u{15}\u{0B}\u{17}\u{03}\u{04}\t\r".utf8))
        #expect(
            keys == [
                .character("a"), .character("b"), .backspace, .home, .end, .deleteToStart,
                .deleteToEnd, .deleteWordBackward, .interrupt, .endOfFile, .complete, .enter,
            ])
    }

    @Test func arrowsAndEditingSequences() {
        var decoder = KeyDecoder()
        let input = "\u{1B}[A\u{1B}[B\u{1B}[C\u{1B}[D\u{1B}OH\u{1B}OF\u{1B}[3~\u{1B}[1;5C\u{1B}[1;5D"
        #expect(
            decoder.decode(Array(input.utf8)) == [
                .up, .down, .right, .left, .home, .end, .delete, .wordRight, .wordLeft,
            ])
    }

    @Test func sequenceSplitAcrossReads() {
        var decoder = KeyDecoder()
        #expect(decoder.decode([0x1B]) == [])
        #expect(decoder.decode([UInt8(ascii: "[")]) == [])
        #expect(decoder.decode([UInt8(ascii: "A"), UInt8(ascii: "x")]) == [.up, .character("x")])
        let euro = Array("€".utf8)
        #expect(decoder.decode(Array(euro.prefix(2))) == [])
        #expect(decoder.decode(Array(euro.suffix(1))) == [.character("€")])
    }

    @Test func carriageReturnLineFeedIsOneEnter() {
        var decoder = KeyDecoder()
        #expect(decoder.decode(Array("a\r\nb\n".utf8)) == [.character("a"), .enter, .character("b"), .enter])
    }

    @Test func unknownSequencesDropped() {
        var decoder = KeyDecoder()
        #expect(decoder.decode(Array("\u{1B}[99X\u{1B}[5~\u{07}z".utf8)) == [.character("z")])
    }
}

@Suite struct LineEditorTests {
    private func type(_ text: String, into editor: inout LineEditor) {
        for character in text { _ = editor.handle(.character(character)) }
    }

    @Test func insertAndMoveCursor() {
        var editor = LineEditor(prompt: "> ")
        type("helo", into: &editor)
        _ = editor.handle(.left)
        type("l", into: &editor)
        #expect(editor.line == "hello")
        _ = editor.handle(.home)
        type("[", into: &editor)
        _ = editor.handle(.end)
        type("]", into: &editor)
        #expect(editor.line == "[hello]")
        #expect(editor.cursor == 7)
    }

    @Test func deletions() {
        var editor = LineEditor(prompt: "> ")
        type("logs web now", into: &editor)
        _ = editor.handle(.deleteWordBackward)
        #expect(editor.line == "logs web ")
        _ = editor.handle(.backspace)
        #expect(editor.line == "logs web")
        _ = editor.handle(.wordLeft)
        _ = editor.handle(.deleteToEnd)
        #expect(editor.line == "logs ")
        _ = editor.handle(.left)
        _ = editor.handle(.deleteToStart)
        #expect(editor.line == " ")
        #expect(editor.cursor == 0)
        _ = editor.handle(.delete)
        #expect(editor.line == "")
    }

    @Test func endOfFileExitsOnlyWhenEmpty() {
        var editor = LineEditor(prompt: "> ")
        type("ab", into: &editor)
        _ = editor.handle(.home)
        #expect(editor.handle(.endOfFile) == .redraw)
        #expect(editor.line == "b")
        _ = editor.handle(.deleteToEnd)
        #expect(editor.handle(.endOfFile) == .exit)
    }

    @Test func interruptDropsLine() {
        var editor = LineEditor(prompt: "> ")
        type("half typed", into: &editor)
        #expect(editor.handle(.interrupt) == .cancel)
        #expect(editor.line == "")
        #expect(editor.history.isEmpty)
    }

    @Test func historyRecallKeepsDraft() {
        var editor = LineEditor(prompt: "> ")
        type("ls", into: &editor)
        #expect(editor.handle(.enter) == .submit("ls"))
        type("whoami", into: &editor)
        #expect(editor.handle(.enter) == .submit("whoami"))
        type("whoami", into: &editor)
        _ = editor.handle(.enter)
        #expect(editor.history == ["ls", "whoami"], "a repeated line is kept once")

        type("dra", into: &editor)
        _ = editor.handle(.up)
        #expect(editor.line == "whoami")
        _ = editor.handle(.up)
        #expect(editor.line == "ls")
        _ = editor.handle(.up)
        #expect(editor.line == "ls", "the oldest entry stays")
        _ = editor.handle(.down)
        _ = editor.handle(.down)
        #expect(editor.line == "dra")
        #expect(editor.cursor == 3)
    }

    @Test func blankLinesStayOutOfHistory() {
        var editor = LineEditor(prompt: "> ")
        #expect(editor.handle(.enter) == .submit(""))
        type("   ", into: &editor)
        _ = editor.handle(.enter)
        #expect(editor.history.isEmpty)
    }

    @Test func renderPlacesCursor() {
        var editor = LineEditor(prompt: "p> ")
        type("abc", into: &editor)
        _ = editor.handle(.left)
        let output = String(decoding: editor.render(columns: 80), as: UTF8.self)
        #expect(output == "\rp> abc\u{1B}[K\r\u{1B}[5C")
    }

    @Test func renderScrollsLongLine() {
        var editor = LineEditor(prompt: "> ")
        type("0123456789abcdef", into: &editor)
        let output = String(decoding: editor.render(columns: 10), as: UTF8.self)
        // 10 columns leave 7 for the text, which shows its end and the cursor after it.
        #expect(output == "\r> 9abcdef\u{1B}[K\r\u{1B}[9C")
        _ = editor.handle(.home)
        let start = String(decoding: editor.render(columns: 10), as: UTF8.self)
        #expect(start == "\r> 0123456\u{1B}[K\r\u{1B}[2C")
    }

    @Test func completionReplacesWord() {
        var editor = LineEditor(prompt: "> ")
        type("logs w", into: &editor)
        #expect(editor.handle(.complete) == .complete)
        #expect(editor.wordsBeforeCursor == ["logs"])
        let (start, word) = editor.wordBeforeCursor
        #expect(word == "w")
        editor.replace(from: start, with: "web ")
        #expect(editor.line == "logs web ")
        #expect(editor.cursor == 9)
    }
}
