import IPsecTestKit
import Netsh
import PolicyModel

/// `ipsecsvc netsh -f`: a script through the whole netsh shell (tokenizer, context navigation, help,
/// argument binding of every static and dynamic command, the static engine on in-memory stores, the
/// dynamic session on an in-memory SPD), as one transaction.
///
/// Oracles: every line the tokenizer accepts renders (tags, quoted values) to a line that tokenizes to
/// the same tokens; a failed script changes no store and not the SPD; a script gives the same
/// outcome and state when run again on a fresh shell with its lines ending in CR LF instead of LF
/// (Windows editors and `netsh dump` write CR LF).
enum NetshShellFuzzing {
    static func run(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            tokenizerRoundTrip(String(line))
        }
        let first = Run(text)
        if case .failure = first.outcome {
            // `exportpolicy` writes its file when its line runs, before the script can fail: files are
            // outside the transaction (docs/netsh.md), so they are left out of this comparison.
            var state = first.state
            state.files = [:]
            check(state == Run.State.initial, "a failed script changed the stores or the SPD")
        }
        // The same script with CR LF line ends runs on a fresh shell: any difference is either the line
        // ends or state that leaks between runs (a script without line ends is simply run twice).
        let windows = text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
        check(Run(windows) == first, "the script with CR LF line ends differs")
        if case .success = first.outcome { return true }
        return false
    }

    /// A fresh shell with deterministic GUIDs and clock, the script run on it, and what it left.
    private struct Run: Equatable {
        struct State: Equatable {
            var stores: [NetshStoreLocation: PolicyStore]
            var saves: [NetshStoreLocation: Int]
            var files: [String: PolicyStore]
            var spd: NetshSPD
            var commits: Int

            static let initial = State(stores: [:], saves: [:], files: [:], spd: NetshSPD(), commits: 0)
        }

        enum Outcome: Equatable {
            case success(String)
            case failure(message: String, line: Int?)
        }

        var outcome: Outcome
        var state: State

        init(_ script: String) {
            let stores = InMemoryNetshStoreBackend()
            let dynamic = InMemoryNetshDynamicBackend(environment: .deterministic())
            let shell = NetshShell(
                staticSession: NetshStaticSession(backend: stores, environment: .deterministic()),
                dynamicBackend: dynamic
            )
            do {
                let output = try shell.runScript(script, source: "<fuzz>")
                try shell.finish()
                outcome = .success(output)
            } catch {
                outcome = .failure(message: error.message, line: error.line)
            }
            state = State(
                stores: stores.stores,
                saves: stores.saveCount,
                files: stores.files,
                spd: dynamic.spd,
                commits: dynamic.commitCount
            )
        }
    }

    /// Tokens render as `tag=value` or `value`, quoted where netsh needs quotes; the rendering must
    /// read back to the same tokens. (A value can hold a quote only inside parentheses, which the
    /// quoting does not reproduce: those lines are skipped.)
    private static func tokenizerRoundTrip(_ line: String) {
        guard let tokens = try? NetshTokenizer.tokenize(line),
            !tokens.contains(where: { $0.value.unicodeScalars.contains("\"") })
        else { return }
        let rendered = tokens.map { token in
            let value = NetshTokenizer.quote(token.value)
            return token.tag.map { "\($0)=\(value)" } ?? value
        }.joined(separator: " ")
        check(
            (try? NetshTokenizer.tokenize(rendered)) == tokens,
            "tokens of \(line.debugDescription) render as \(rendered.debugDescription)"
        )
    }

    private static func check(_ condition: Bool, _ what: @autoclosure () -> String) {
        if !condition { preconditionFailure("netsh-shell: \(what())") }
    }
}
