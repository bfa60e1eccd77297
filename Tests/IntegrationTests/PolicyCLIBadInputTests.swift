import Foundation
import IPsecTestKit
import Testing

/// The bad-input corpus of the native XML reader, through the command line: every file gives one
/// error line that names the file and a place, exit code 1, no crash, and nothing of another file.
@Suite struct PolicyCLIBadInputTests {
    static let corpus = IPsecSvcProcess.packageRoot.appendingPathComponent("Tests/PolicyFormatsTests/Fixtures/bad-xml")

    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []
        return names.filter { $0.hasSuffix(".xml") }.sorted()
    }()

    @Test(arguments: files)
    func rejectedWithOneLineNamingThePlace(name: String) async throws {
        let path = Self.corpus.appendingPathComponent(name).path
        let result = try await IPsecSvcProcess.run(["policy", "validate", path])
        #expect(result.status == 1, "\(name): exit \(result.status), stderr \(result.standardError)")
        #expect(result.standardOutput.isEmpty)
        let lines = result.errorLines
        #expect(lines.count >= 1)
        for line in lines {
            #expect(line.hasPrefix(path + ":"), "\(name): \(line)")
        }
        let marker = try String(
            contentsOf: Self.corpus.appendingPathComponent("secret-marker.txt"),
            encoding: .utf8
        )
        .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!result.standardError.contains(marker))
    }

    @Test func corpusIsThere() {
        #expect(Self.files.count >= 20)
    }

    @Test func twoHundredMegabytesAreRefusedBeforeParsing() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let path = directory.file("huge.xml")
        // Sparse: the reader must refuse it by its size without reading 200 MB.
        #expect(FileManager.default.createFile(atPath: path, contents: Data("<policyStore".utf8)))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 200 << 20)
        try handle.close()
        let result = try await IPsecSvcProcess.run(["policy", "validate", path])
        #expect(result.status == 1)
        #expect(result.errorLines.count == 1)
        #expect(result.errorLines.first?.hasPrefix(path + ":") == true)
    }

    @Test func emptyFileIsAnError() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let path = directory.file("empty.xml")
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let result = try await IPsecSvcProcess.run(["policy", "validate", path])
        #expect(result.status == 1)
        #expect(result.errorLines.count == 1)
    }
}
