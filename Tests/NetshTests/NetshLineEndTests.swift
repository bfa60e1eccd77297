import Netsh
import PolicyFormats
import PolicyModel
import Testing

/// Scripts written on Windows end their lines in CR LF (Notepad, `netsh dump > file`). Swift reads
/// CR LF as one character, neither "\r" nor "\n", so a script split on "\n" alone was one long line
/// and a tokenizer that only knew " ", "\t", "\r" and "\n" glued the last word of a line to the first
/// of the next (found while writing the netsh-shell fuzz target's CR LF oracle, Fuzz/README.md).
@Suite struct NetshLineEndTests {
    static let script = [
        #"# Quick hardening: block inbound telnet."#,
        #"ipsec static add policy name="Block Telnet" assign=yes"#,
        "pushd ipsec static",
        "add filteraction name=Block action=block",
        "add filter filterlist=Telnet srcaddr=any dstaddr=me protocol=TCP dstport=23",
        "popd",
        #"ipsec static add rule name=R policy="Block Telnet" filterlist=Telnet filteraction=Block"#,
        "",
    ]

    @Test func aCRLFScriptBuildsTheSameStoreAsItsLFText() throws {
        let unix = try NetshScriptReader.read(Array(Self.script.joined(separator: "\n").utf8), file: "lf.netsh")
        let windows = try NetshScriptReader.read(Array(Self.script.joined(separator: "\r\n").utf8), file: "crlf.netsh")
        #expect(unix.policies.map(\.name) == ["Block Telnet"])
        #expect(windows.policies.map(\.name) == unix.policies.map(\.name))
        #expect(windows.filterLists.map(\.filters.count) == unix.filterLists.map(\.filters.count))
        #expect(windows.policies.first?.rules.count == unix.policies.first?.rules.count)
    }

    @Test func aCRLFScriptErrorNamesItsLine() {
        let script = ["ipsec static add policy name=A", "ipsec static add policy name=A", ""].joined(separator: "\r\n")
        do {
            _ = try NetshScriptReader.read(Array(script.utf8), file: "crlf.netsh")
            Issue.record("a second policy of the same name was accepted")
        } catch {
            #expect(error.file == "crlf.netsh")
            #expect(error.line == 2)
        }
    }

    @Test func aLineEndingInCRLFTokenizesWithoutIt() throws {
        let tokens = try NetshTokenizer.tokenize("add policy name=A\r\n")
        #expect(tokens.map(\.description) == ["add", "policy", "name=A"])
    }
}
