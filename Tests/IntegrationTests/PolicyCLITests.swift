import Foundation
import IPsecTestKit
import Testing

@Suite struct PolicyCLITests {
    @Test func executableIsNextToTheTests() {
        #expect(FileManager.default.isExecutableFile(atPath: IPsecSvcProcess.executable.path))
    }

    @Test(arguments: [
        ["--help"], ["policy", "--help"], ["policy", "validate", "--help"], ["policy", "show", "--help"],
        ["policy", "convert", "--help"],
    ])
    func helpExitsZeroWithExamples(arguments: [String]) async throws {
        let result = try await IPsecSvcProcess.run(arguments)
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("USAGE: ipsecsvc"))
        #expect(result.standardOutput.contains("Exit codes: 0"))
        if arguments.count > 1 { #expect(result.standardOutput.contains("Examples:")) }
    }

    @Test(arguments: [
        (["policy", "validate"], "Missing expected argument"),
        (["policy", "show"], "Give the policy file to show."),
        (["policy", "show", "--format", "nope", "x.xml"], "The value 'nope' is invalid for '--format <format>'"),
        (["policy", "convert", "in.xml", "out.unknown"], "Cannot tell the format of 'out.unknown'"),
        (["policy", "convert", "in.xml"], "Missing expected argument '<output>'"),
        (["policy", "frobnicate"], "Unexpected argument 'frobnicate'"),
        (["policy", "show", "x.xml", "--jsn"], "Unknown option '--jsn'"),
    ])
    func usageErrorsExitTwo(arguments: [String], message: String) async throws {
        let result = try await IPsecSvcProcess.run(arguments)
        #expect(result.status == 2)
        #expect(result.standardOutput.isEmpty)
        #expect(result.errorLines.first?.hasPrefix("Error: \(message)") == true, "\(result.standardError)")
    }

    @Test func unreadableFilesExitOneWithOneLineEach() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let result = try await IPsecSvcProcess.run(["policy", "validate", "/nonexistent/a.xml", directory.path])
        #expect(result.status == 1)
        #expect(
            result.errorLines == [
                "/nonexistent/a.xml: cannot open: no such file or directory",
                "\(directory.path): is a directory, not a policy file",
            ]
        )
        #expect(result.standardOutput.isEmpty)
    }

    @Test func showAndConvertReportUnreadableInput() async throws {
        let show = try await IPsecSvcProcess.run(["policy", "show", "/nonexistent/a.xml", "--json"])
        #expect(show.status == 1)
        #expect(show.errorLines == ["/nonexistent/a.xml: cannot open: no such file or directory"])
        let convert = try await IPsecSvcProcess.run([
            "policy", "convert", "/nonexistent/a.xml", "/tmp/never-written.xml",
        ])
        #expect(convert.status == 1)
        #expect(convert.errorLines == ["/nonexistent/a.xml: cannot open: no such file or directory"])
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written.xml"))
    }

    @Test func unknownFormatExitsOne() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let path = directory.file("notes.txt")
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: path))
        let result = try await IPsecSvcProcess.run(["policy", "validate", path])
        #expect(result.status == 1)
        #expect(result.errorLines == ["\(path): cannot tell the file's format; name it (xml, reg, ldif, dsml, netsh)"])
    }
}
