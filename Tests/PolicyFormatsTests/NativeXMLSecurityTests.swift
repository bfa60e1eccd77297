import Foundation
import PolicyFormats
import PolicyModel
import Testing

/// The reader never reaches beyond its input and bounds what input can make it do.
@Suite struct NativeXMLSecurityTests {
    static let corpus = NativeXMLBadInputTests.corpus
    static let marker = "IPSECSVC-SECRET-MARKER-5c1e7a"

    @Test func externalEntityNeverLeaksTheFile() throws {
        let path = NativeXMLFixtures.packageRoot.appendingPathComponent(Self.corpus + "external-entity.xml").path
        let secret = try String(
            contentsOfFile: path.replacingOccurrences(of: "external-entity.xml", with: "secret-marker.txt"),
            encoding: .utf8
        )
        #expect(secret.contains(Self.marker))
        let error = try #require(throws: PolicyFormatError.self) { try NativePolicyXML.read(contentsOf: path) }
        #expect(!error.description.contains(Self.marker))
        #expect(!error.message.contains(Self.marker))
    }

    /// An external entity in attribute content without any DOCTYPE cannot be declared, so it cannot
    /// be expanded either: the reference is an error naming it, not the file's contents.
    @Test func undeclaredEntityReferenceIsAnError() throws {
        let text = """
            <?xml version="1.0" encoding="UTF-8"?>
            <policyStore xmlns="urn:ipsecsvc:policy:1" version="1">
              <filterList id="{00000000-0000-4000-8000-000000000001}" name="&secret;"/>
            </policyStore>

            """
        let error = try #require(throws: PolicyFormatError.self) {
            try NativePolicyXML.read(Array(text.utf8), file: "entity.xml")
        }
        #expect(error.line == 3)
        #expect(error.description.contains("secret"))
    }

    @Test func doctypeHiddenAfterCommentsAndProcessingInstructionsIsRefused() throws {
        let text = """
            <?xml version="1.0"?>
            <!-- a comment -->
            <?pi data?>
            <!DOCTYPE policyStore [<!ENTITY x "y">]>
            <policyStore xmlns="urn:ipsecsvc:policy:1" version="1"/>

            """
        let error = try #require(throws: PolicyFormatError.self) {
            try NativePolicyXML.read(Array(text.utf8), file: "hidden.xml")
        }
        #expect(error.line == 4)
        #expect(error.message.contains("DOCTYPE"))
    }

    @Test func declaredEncodingIsIgnoredSoTheDoctypeCheckCannotBeBypassed() throws {
        // Declared UTF-16 but written in ASCII: read as UTF-8 (the declaration is ignored).
        let text = """
            <?xml version="1.0" encoding="UTF-16"?>
            <policyStore xmlns="urn:ipsecsvc:policy:1" version="1"/>

            """
        #expect(try NativePolicyXML.read(Array(text.utf8), file: "declared.xml") == PolicyStore())
        // UTF-16 without a byte-order mark, which libxml2 would otherwise detect from the first bytes.
        let utf16 = Array(text.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(throws: PolicyFormatError.self) { try NativePolicyXML.read(utf16, file: "utf16.xml") }
    }

    @Test func sizeIsCheckedBeforeParsing() throws {
        // Not even XML: had it been parsed, the error would be a parse error.
        let bytes = [UInt8](repeating: 0x41, count: 2048)
        let error = try #require(throws: PolicyFormatError.self) {
            try NativePolicyXML.read(bytes, file: "big.xml", limits: .init(maxBytes: 1024))
        }
        #expect(error.message.contains("2048 bytes, larger than the limit of 1024 bytes"))
    }

    /// A 200 MB document is refused from its size alone: the file is sparse, so building it costs no
    /// disk, and the reader never reads it.
    @Test func twoHundredMegabyteFileIsRefusedUnread() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ipsecsvc-xml-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("huge.xml").path
        let header = "<?xml version=\"1.0\"?>\n<policyStore xmlns=\"urn:ipsecsvc:policy:1\" version=\"1\">\n"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(header.utf8)))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 200 << 20)
        try handle.close()
        let start = ContinuousClock.now
        let error = try #require(throws: PolicyFormatError.self) { try NativePolicyXML.read(contentsOf: path) }
        #expect(error.message.contains("\(200 << 20) bytes, larger than the limit of \(64 << 20) bytes"))
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func entityBombIsRefusedQuickly() throws {
        let start = ContinuousClock.now
        let path = Self.corpus + "entity-bomb.xml"
        #expect(throws: PolicyFormatError.self) {
            try NativePolicyXML.read(try NativeXMLFixtures.bytes(path), file: path)
        }
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func nestingDepthIsLimited() throws {
        let text = """
            <?xml version="1.0"?>
            <policyStore xmlns="urn:ipsecsvc:policy:1" version="1"/>

            """
        // The format nests 5 deep; a limit of 1 refuses the first child of the root.
        var store = PolicyStore()
        store.filterLists = [FilterList(id: NativeXMLFixtures.guid(1), name: "a")]
        let error = try #require(throws: PolicyFormatError.self) {
            try NativePolicyXML.read(NativePolicyXML.write(store), file: "deep.xml", limits: .init(maxDepth: 1))
        }
        #expect(error.message.contains("nested deeper than 1"))
        #expect(
            try NativePolicyXML.read(Array(text.utf8), file: "flat.xml", limits: .init(maxDepth: 1)) == PolicyStore()
        )
    }

    /// Includes can multiply filters (a list included twice by a list included twice …); the total
    /// after expansion is capped.
    @Test func includeExpansionIsCapped() throws {
        var lines = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<policyStore xmlns=\"urn:ipsecsvc:policy:1\" version=\"1\">",
            "  <filterList id=\"\(NativeXMLFixtures.guid(1).braced)\" name=\"L0\">",
            "    <filter id=\"\(NativeXMLFixtures.guid(1000).braced)\" mirrored=\"true\" protocol=\"any\">",
            "      <source><me/></source>", "      <destination><any/></destination>", "    </filter>",
            "  </filterList>",
        ]
        for level in 1...30 {
            let previous = NativeXMLFixtures.guid(level).braced
            lines.append("  <filterList id=\"\(NativeXMLFixtures.guid(level + 1).braced)\" name=\"L\(level)\">")
            lines.append("    <include filterList=\"\(previous)\"/>")
            lines.append("    <include filterList=\"\(previous)\"/>")
            lines.append("  </filterList>")
        }
        lines.append("</policyStore>")
        let bytes = Array(lines.joined(separator: "\n").utf8)
        let start = ContinuousClock.now
        let error = try #require(throws: PolicyFormatError.self) { try NativePolicyXML.read(bytes, file: "expand.xml") }
        #expect(error.message.contains("more than the limit of 2000000"))
        #expect(ContinuousClock.now - start < .seconds(2))
        // Ten levels (2 047 filters in all) are fine.
        let small = lines.prefix(8 + 10 * 4) + ["</policyStore>"]
        let store = try NativePolicyXML.read(Array(small.joined(separator: "\n").utf8), file: "small.xml")
        #expect(store.filterLists.last?.filters.count == 1024)
    }
}
