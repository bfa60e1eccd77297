import Netsh
import Testing

/// A quote, space, `=` or parenthesis followed by a combining mark is one `Character` in Swift (one
/// grapheme cluster), so a tokenizer that walked Characters did not see the delimiter: a quoted value
/// starting with a combining mark did not read back (the netsh-shell fuzz target's round-trip oracle,
/// Fuzz/README.md), and `name="\u{0301}x y"` failed with a missing closing quote. netsh reads UTF-16 code
/// units; the tokenizer reads Unicode scalars.
@Suite struct NetshTokenizerScalarTests {
    @Test func aQuoteBeforeACombiningMarkOpensTheValue() throws {
        let tokens = try NetshTokenizer.tokenize("add policy name=\"\u{0301}x y\" assign=no")
        #expect(tokens.map(\.tag) == [nil, nil, "name", "assign"])
        #expect(tokens.map(\.value) == ["add", "policy", "\u{0301}x y", "no"])
    }

    @Test func aSpaceBeforeACombiningMarkSeparatesTokens() throws {
        let tokens = try NetshTokenizer.tokenize("show \u{0301}rule")
        #expect(tokens.map(\.value) == ["show", "\u{0301}rule"])
    }

    @Test func anEqualsSignBeforeACombiningMarkSeparatesTheTag() throws {
        let tokens = try NetshTokenizer.tokenize("description=\u{0301}x")
        #expect(tokens.map(\.tag) == ["description"])
        #expect(tokens.map(\.value) == ["\u{0301}x"])
    }

    /// The fuzz target's input: a value starting with a combining mark, with an `=` inside, renders in
    /// quotes and reads back as the same tokens.
    @Test func aRenderedValueStartingWithACombiningMarkReadsBack() throws {
        let line = "\u{07EF}\u{06B5}\u{FFFD}\u{FFFD}name=Q p"
        let tokens = try NetshTokenizer.tokenize(line)
        let rendered = tokens.map { token in
            let value = NetshTokenizer.quote(token.value)
            return token.tag.map { "\($0)=\(value)" } ?? value
        }.joined(separator: " ")
        #expect(try NetshTokenizer.tokenize(rendered) == tokens, "\(rendered.debugDescription)")
    }

    @Test func aValueWithADelimiterUnderACombiningMarkIsQuoted() {
        #expect(NetshTokenizer.quote("a=\u{0301}b") == "\"a=\u{0301}b\"")
        #expect(NetshTokenizer.quote("(\u{0301}") == "\"(\u{0301}\"")
        #expect(NetshTokenizer.quote("plain\u{0301}") == "plain\u{0301}")
    }
}
