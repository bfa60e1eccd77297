import Foundation
import PolicyFormats
import PolicyModel
import Testing

/// The bad-input corpus: every file gives one error line naming the place, and nothing crashes.
@Suite struct NativeXMLBadInputTests {
    static let corpus = "Tests/PolicyFormatsTests/Fixtures/bad-xml/"

    struct Case: CustomTestStringConvertible, Sendable {
        var file: String
        /// `nil` when the error concerns the whole file.
        var line: Int?
        var column: Int?
        var says: String
        var testDescription: String { file }
    }

    static let cases: [Case] = [
        Case(file: "not-xml.xml", line: 1, column: 1, says: "Start tag expected"),
        Case(file: "not-well-formed.xml", line: 7, column: 14, says: "tag mismatch"),
        Case(file: "empty.xml", says: "the file is empty"),
        Case(file: "invalid-utf8.xml", line: 3, column: 68, says: "not valid UTF-8"),
        Case(file: "utf16.xml", line: 1, column: 1, says: "the document is not UTF-8 (UTF-16)"),
        Case(file: "wrong-root.xml", line: 2, column: 1, says: "root element must be 'policyStore'"),
        Case(file: "wrong-namespace.xml", line: 2, column: 1, says: "in namespace urn:ipsecsvc:policy:1"),
        Case(file: "wrong-version.xml", line: 2, column: 44, says: "attribute 'version'"),
        Case(file: "unknown-element.xml", line: 7, column: 7, says: "Element 'comment': This element is not expected"),
        Case(file: "unknown-attribute.xml", line: 4, column: 88, says: "attribute 'priority'"),
        Case(file: "missing-required.xml", line: 4, column: 5, says: "The attribute 'protocol' is required"),
        Case(file: "port-out-of-range.xml", line: 4, column: 88, says: "'70000'"),
        Case(file: "protocol-out-of-range.xml", line: 4, column: 73, says: "'256'"),
        Case(file: "mask-out-of-range.xml", line: 5, column: 44, says: "'255.255.256.0' is not a dotted IPv4 address"),
        Case(file: "lifetime-out-of-range.xml", line: 10, column: 12, says: "attribute 'lifetimeSeconds'"),
        Case(file: "bad-guid.xml", line: 4, column: 13, says: "is not a GUID in braces"),
        Case(file: "impossible-date.xml", line: 3, column: 73, says: "'2026-02-30T12:00:00Z' is not a UTC time"),
        Case(file: "duplicate-guid.xml", line: 9, column: 3, says: "Duplicate key-sequence"),
        Case(file: "name-too-long.xml", line: 3, column: 59, says: "1025 characters is longer than the limit of 1024"),
        Case(file: "missing-filter-list.xml", line: 15, column: 22, says: "no filter list has the GUID"),
        Case(file: "missing-filter-action.xml", line: 14, column: 69, says: "no filter action has the GUID"),
        Case(file: "missing-assigned-policy.xml", line: 2, column: 56, says: "no policy has the GUID"),
        Case(
            file: "reference-cycle.xml",
            line: 11,
            column: 14,
            says: "reference cycle: \"Telnet\" → \"Remote shells\" → \"Telnet\""
        ),
        Case(file: "self-include.xml", line: 8, column: 14, says: "reference cycle: \"Telnet\" → \"Telnet\""),
        Case(file: "entity-bomb.xml", line: 2, column: 1, says: "a DOCTYPE is not allowed"),
        Case(file: "external-entity.xml", line: 2, column: 1, says: "a DOCTYPE is not allowed"),
        Case(file: "external-dtd.xml", line: 2, column: 1, says: "a DOCTYPE is not allowed"),
        Case(file: "xinclude.xml", line: 3, column: 3, says: "XInclude}include': This element is not expected"),
        Case(file: "too-deep.xml", line: 3, column: 1, says: "Element 'x': This element is not expected"),
    ]

    @Test(arguments: cases)
    func reportsOneLineNamingThePlace(_ bad: Case) throws {
        let path = Self.corpus + bad.file
        let error = try #require(throws: PolicyFormatError.self) {
            try NativePolicyXML.read(try NativeXMLFixtures.bytes(path), file: path)
        }
        #expect(error.file == path)
        #expect(error.line == bad.line)
        #expect(error.column == bad.column)
        #expect(error.description.contains(bad.says), "\(error)")
        #expect(!error.description.contains("\n"), "\(error)")
        if let line = bad.line, let column = bad.column {
            #expect(error.description.hasPrefix("\(path):\(line):\(column): "))
        }
    }

    @Test func everyFixtureHasAnExpectation() throws {
        let directory = NativeXMLFixtures.packageRoot.appendingPathComponent(Self.corpus).path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".xml") }
        #expect(Set(files) == Set(Self.cases.map(\.file)))
    }

    @Test func readingByPathGivesTheSameErrors() throws {
        let path = NativeXMLFixtures.packageRoot.appendingPathComponent(Self.corpus + "reference-cycle.xml").path
        let error = try #require(throws: PolicyFormatError.self) { try NativePolicyXML.read(contentsOf: path) }
        #expect(error.description.hasPrefix(path + ":11:14: reference cycle"))
    }
}
