import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Testing

/// The error a read throws, or `nil` when it succeeds.
private func readError(_ path: String, format: PolicyFileFormat? = nil) -> PolicyFormatError? {
    do {
        _ = try PolicyFile.builtIn.read(path: path, format: format)
        return nil
    } catch {
        return error
    }
}

@Suite struct PolicyFileFormatTests {
    @Test func extensionChoosesTheFormat() {
        #expect(PolicyFile.builtIn.format(forPath: "site.xml") == .xml)
        #expect(PolicyFile.builtIn.format(forPath: "/etc/ipsecsvc/SITE.XML") == .xml)
        #expect(PolicyFile.builtIn.format(forPath: "dir.xml/site") == nil)
        #expect(PolicyFile.builtIn.format(forPath: ".xml") == nil)
        #expect(PolicyFile.builtIn.format(forPath: "site") == nil)
    }

    @Test func contentSniffing() {
        #expect(PolicyFile.builtIn.format(sniffing: Array("<?xml version=\"1.0\"?><a/>".utf8)) == .xml)
        #expect(PolicyFile.builtIn.format(sniffing: [0xEF, 0xBB, 0xBF, 0x0A, 0x20] + Array("<a/>".utf8)) == .xml)
        #expect(PolicyFile.builtIn.format(sniffing: Array("dn: cn=x".utf8)) == .ldif)
        #expect(PolicyFile.builtIn.format(sniffing: Array("REGEDIT4\r\n".utf8)) == .reg)
        #expect(
            PolicyFile.builtIn.format(
                sniffing: Array("<batchResponse xmlns=\"urn:oasis:names:tc:DSML:2:0:core\"/>".utf8)
            )
                == .dsml
        )
        #expect(PolicyFile.builtIn.format(sniffing: Array("hello".utf8)) == nil)
        #expect(PolicyFile.builtIn.format(sniffing: []) == nil)
    }

    @Test func everyFormatHasAnExtension() {
        for codec in PolicyFile.builtIn.codecs {
            #expect(!codec.fileExtensions.isEmpty)
            #expect(PolicyFile.builtIn.format(named: codec.format.description.uppercased()) == codec.format)
        }
    }

    @Test func aFormatOutsideTheTableIsAClearError() {
        #expect(
            throws: PolicyFormatError(
                file: "x.netsh",
                message: "the netsh format is not known here (xml, reg, ldif, dsml)"
            )
        ) {
            try PolicyFile.builtIn.decode([], file: "x.netsh", format: PolicyFileFormat(rawValue: "netsh"))
        }
        #expect(PolicyFile.builtIn.format(forPath: "x.netsh") == nil)
    }
}

@Suite struct PolicyFileTests {
    @Test func missingFileIsOneClearError() {
        let error = readError("/nonexistent/site.xml")
        #expect(error?.description == "/nonexistent/site.xml: cannot open: no such file or directory")
    }

    @Test func directoryIsRefused() throws {
        let directory = TemporaryDirectory(prefix: "policyfile")
        defer { directory.remove() }
        #expect(readError(directory.path)?.message == "is a directory, not a policy file")
        let target = directory.file("store.xml")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        #expect(catchWrite(PolicyStore(), to: target)?.message == "is a directory; give a file name")
    }

    /// A file nobody may read, root included (the test runs as root too): a write-only sysctl, under a
    /// policy file's name. For `/proc/sys` even root gets only the owner's bits, without a capability
    /// that overrides them.
    @Test func unreadableFileIsRefused() throws {
        let directory = TemporaryDirectory(prefix: "policyfile")
        defer { directory.remove() }
        let path = directory.file("secret.xml")
        try FileManager.default.createSymbolicLink(
            atPath: path,
            withDestinationPath: "/proc/sys/net/ipv4/route/flush"
        )
        #expect(readError(path)?.message == "cannot open: permission denied")
    }

    @Test func unknownFormatAsksForOne() throws {
        let directory = TemporaryDirectory(prefix: "policyfile")
        defer { directory.remove() }
        let path = directory.file("policy.txt")
        _ = FileManager.default.createFile(atPath: path, contents: Data("hello".utf8))
        #expect(readError(path)?.message.hasPrefix("cannot tell the file's format") == true)
        #expect(catchWrite(PolicyStore(), to: path)?.message.hasPrefix("cannot tell the format") == true)
    }

    @Test func contentDecidesWithoutAnExtension() throws {
        let directory = TemporaryDirectory(prefix: "policyfile")
        defer { directory.remove() }
        let path = directory.file("policy")
        _ = FileManager.default.createFile(atPath: path, contents: Data("<a/>".utf8))
        // Whatever the XML reader says about `<a/>`, it is the XML reader that says it.
        let error = readError(path)
        #expect(error?.file == path)
        #expect(error?.message.hasPrefix("cannot tell") == false)
    }

    @Test func writeReplacesTheTargetAndLeavesNoTemporaryFile() throws {
        let directory = TemporaryDirectory(prefix: "policyfile")
        defer { directory.remove() }
        let path = directory.file("out.xml")
        _ = FileManager.default.createFile(atPath: path, contents: Data("old".utf8))
        try PolicyFile.builtIn.write(PolicyStore(), to: path)
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
            try PolicyFile.builtIn.write(store, to: path)
            return nil
        } catch {
            return error
        }
    }
}
