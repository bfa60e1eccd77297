import Foundation
import IPsecTestKit
import Testing

/// Text from plugins, stores and configuration files reaches `status`, netsh output and journal events
/// with its terminal control characters escaped (`\u001b`, `\u009b`), never raw.
@Suite struct TerminalEscapeTests {
    static let escape = "\u{1B}[2J\u{1B}[31m"
    static let csi = "\u{9B}2J"

    static func hasRawControls(_ text: String) -> Bool {
        text.unicodeScalars.contains {
            ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value)
        }
    }

    /// A plugins.d file whose name carries escape sequences: its source name and the reason it failed
    /// show escaped in `status` (text and JSON) and in the journal.
    @Test(.timeLimit(.minutes(3))) func pluginNamesAreEscapedInStatusAndTheJournal() async throws {
        let plugins = TemporaryDirectory(prefix: "ipsecsvc-escape")
        defer { plugins.remove() }
        plugins.write(
            "evil\(Self.escape)\(Self.csi).conf",
            "path = \(Self.escape)missing\(Self.csi).so\nenabled = yes\n"
        )
        let sandbox = try ServiceSandbox(extraConfig: "plugin_conf_dir = \(plugins.path)\n")
        defer { sandbox.remove() }
        let service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")

        var status = ProcessResult(status: -1, output: "")
        let listed = await eventually {
            status = (try? await sandbox.execute(["status"] + sandbox.commonArguments)) ?? status
            return status.output.contains("plugin:evil")
        }
        #expect(listed, "\(status.output)")
        #expect(!Self.hasRawControls(status.output), "\(status.output.debugDescription)")
        #expect(
            status.output.contains("plugin:evil\\u001b[2J\\u001b[31m\\u009b2J"),
            "\(status.output.debugDescription)"
        )

        let json = try await sandbox.execute(["status", "--json"] + sandbox.commonArguments)
        #expect(!Self.hasRawControls(json.output), "\(json.output.debugDescription)")
        #expect((try? JSONSerialization.jsonObject(with: Data(json.output.utf8))) != nil, "\(json.output)")

        let journaled = await eventually { service.output.contains("plugin:evil") }
        #expect(journaled, "log:\n\(service.output)")
        #expect(!Self.hasRawControls(service.output), "log:\n\(service.output.debugDescription)")
    }

    /// A policy name with a C1 control (the XML store keeps it: XML 1.0 allows U+0080–U+009F) shows
    /// escaped in netsh's output.
    @Test func storeNamesAreEscapedInNetshOutput() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let netsh = ["netsh"] + sandbox.commonArguments
        let added = try await sandbox.execute(netsh + ["ipsec", "static", "add", "policy", "name=Evil\(Self.csi)"])
        #expect(added.status == 0, "\(added.output)")
        let shown = try await sandbox.execute(netsh + ["ipsec", "static", "show", "policy", "all"])
        #expect(shown.status == 0, "\(shown.output)")
        #expect(shown.output.contains("Evil\\u009b2J"), "\(shown.output.debugDescription)")
        #expect(!Self.hasRawControls(shown.output), "\(shown.output.debugDescription)")
    }
}
