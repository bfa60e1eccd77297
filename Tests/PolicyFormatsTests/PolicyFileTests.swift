import Foundation
import PolicyFormats
import PolicyModel
import Testing

/// A fresh temporary directory for one test.
private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("policyfile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The error a read throws, or `nil` when it succeeds.
private func readError(_ path: String, format: PolicyFileFormat? = nil) -> PolicyFormatError? {
    do {
        _ = try PolicyFile.read(path: path, format: format)
        return nil
    } catch {
        return error
    }
}

@Suite struct PolicyFileFormatTests {
    @Test func extensionChoosesTheFormat() {
        #expect(PolicyFileFormat(path: "site.xml") == .xml)
        #expect(PolicyFileFormat(path: "/etc/ipsecsvc/SITE.XML") == .xml)
        #expect(PolicyFileFormat(path: "dir.xml/site") == nil)
        #expect(PolicyFileFormat(path: ".xml") == nil)
        #expect(PolicyFileFormat(path: "site") == nil)
    }

    @Test func contentSniffing() {
        #expect(PolicyFileFormat(sniffing: Array("<?xml version=\"1.0\"?><a/>".utf8)) == .xml)
        #expect(PolicyFileFormat(sniffing: [0xEF, 0xBB, 0xBF, 0x0A, 0x20] + Array("<a/>".utf8)) == .xml)
        #expect(PolicyFileFormat(sniffing: Array("dn: cn=x".utf8)) == .ldif)
        #expect(PolicyFileFormat(sniffing: Array("REGEDIT4\r\n".utf8)) == .reg)
        #expect(
            PolicyFileFormat(sniffing: Array("<batchResponse xmlns=\"urn:oasis:names:tc:DSML:2:0:core\"/>".utf8))
                == .dsml
        )
        #expect(PolicyFileFormat(sniffing: Array("hello".utf8)) == nil)
        #expect(PolicyFileFormat(sniffing: []) == nil)
    }

    @Test func everyFormatHasAnExtension() {
        for format in PolicyFileFormat.allCases {
            #expect(!format.fileExtensions.isEmpty)
            #expect(PolicyFileFormat(rawValue: format.description) == format)
        }
    }
}

@Suite struct PolicyFileTests {
    @Test func missingFileIsOneClearError() {
        let error = readError("/nonexistent/site.xml")
        #expect(error?.description == "/nonexistent/site.xml: cannot open: no such file or directory")
    }

    @Test func directoryIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(readError(directory.path)?.message == "is a directory, not a policy file")
        let target = directory.appendingPathComponent("store.xml")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        #expect(catchWrite(PolicyStore(), to: target.path)?.message == "is a directory; give a file name")
    }

    @Test func unreadableFileIsRefused() throws {
        guard getuid() != 0 else { return }  // root reads anything; nothing to check then
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("secret.xml").path
        _ = FileManager.default.createFile(
            atPath: path,
            contents: Data("<a/>".utf8),
            attributes: [.posixPermissions: 0]
        )
        #expect(readError(path)?.message == "cannot open: permission denied")
    }

    @Test func unknownFormatAsksForOne() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("policy.txt").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("hello".utf8))
        #expect(readError(path)?.message.hasPrefix("cannot tell the file's format") == true)
        #expect(catchWrite(PolicyStore(), to: path)?.message.hasPrefix("cannot tell the format") == true)
    }

    @Test func contentDecidesWithoutAnExtension() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("policy").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("<a/>".utf8))
        // Whatever the XML reader says about `<a/>`, it is the XML reader that says it.
        let error = readError(path)
        #expect(error?.file == path)
        #expect(error?.message.hasPrefix("cannot tell") == false)
    }

    @Test func writeReplacesTheTargetAndLeavesNoTemporaryFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("out.xml").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("old".utf8))
        try PolicyFile.write(PolicyStore(), to: path)
        let written = try #require(FileManager.default.contents(atPath: path))
        #expect(Array(written) == NativePolicyXML.write(PolicyStore()))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.xml"])
    }

    @Test func writeIntoMissingDirectoryFails() {
        let error = catchWrite(PolicyStore(), to: "/nonexistent/out.xml")
        #expect(error?.description == "/nonexistent/out.xml: cannot create: no such file or directory")
    }

    private func catchWrite(_ store: PolicyStore, to path: String) -> PolicyFormatError? {
        do {
            try PolicyFile.write(store, to: path)
            return nil
        } catch {
            return error
        }
    }
}
