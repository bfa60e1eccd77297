import PolicyFormats
import Testing

/// The bad-input corpus of `Fixtures/{reg,ldif,dsml}/bad-*`: every file is refused as a whole, with
/// an error that names the place (line or byte), and where there is one the object and the field.
@Suite struct DirectoryBadInputCorpusTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var path: String
        var line: Int?
        var object: String?
        var field: String?
        var byteOffset: Int?
        var message: String

        var testDescription: String { path }
    }

    static let cases: [Case] = [
        Case(path: "reg/bad-missing-header.reg", line: 1, message: "missing header"),
        Case(path: "reg/bad-unterminated-key.reg", line: 33, message: "unterminated key line"),
        Case(
            path: "reg/bad-broken-continuation.reg",
            line: 26,
            object: "ipsecISAKMPPolicy{e627a7fc",
            message: "broken continuation"
        ),
        Case(path: "reg/bad-odd-utf16.reg", byteOffset: 236, message: "odd number of bytes"),
        Case(
            path: "reg/bad-wrong-type.reg",
            line: 10,
            object: "ipsecPolicy{c0ccd3b2",
            field: "ipsecDataType",
            message: "expected REG_DWORD"
        ),
        Case(
            path: "reg/bad-datatype.reg",
            line: 10,
            object: "ipsecPolicy{c0ccd3b2",
            field: "ipsecDataType",
            message: "expected 256"
        ),
        Case(
            path: "reg/bad-dangling.reg",
            line: 43,
            object: "ipsecNFA{78e7557c",
            field: "ipsecNegotiationPolicyReference",
            message: "dangling reference"
        ),
        Case(
            path: "reg/bad-cyclic.reg",
            line: 13,
            object: "ipsecPolicy{c0ccd3b2",
            field: "ipsecISAKMPReference",
            message: "cyclic reference"
        ),
        Case(
            path: "reg/bad-truncated-blob.reg",
            line: 11,
            object: "ipsecPolicy{c0ccd3b2",
            field: "ipsecData.Polling-Interval",
            byteOffset: 20,
            message: "truncated"
        ),
        Case(
            path: "ldif/bad-base64.ldif",
            line: 11,
            object: "CN=ipsecPolicy{c0ccd3b2",
            field: "ipsecData",
            message: "bad base64"
        ),
        Case(path: "ldif/bad-changetype.ldif", line: 4, object: "CN=x", field: "changetype", message: "change records"),
        Case(path: "ldif/bad-url.ldif", line: 4, object: "CN=x", field: "ipsecData", message: "URL"),
        Case(
            path: "ldif/bad-count.ldif",
            line: 74,
            object: "CN=ipsecFilter{45f48cfc",
            field: "ipsecData.Number-Of-Filters",
            byteOffset: 20,
            message: "larger than the data"
        ),
        Case(
            path: "ldif/bad-dangling.ldif",
            line: 45,
            object: "CN=ipsecNFA{78e7557c",
            field: "ipsecFilterReference",
            message: "dangling"
        ),
        Case(path: "dsml/bad-namespace.dsml", line: 2, field: "batchResponse", message: "not in the DSMLv2 namespace"),
        Case(
            path: "dsml/bad-unknown-blob-type.dsml",
            line: 6,
            object: "CN=ipsecPolicy{c0ccd3b2",
            field: "ipsecData.BlobTypeID",
            byteOffset: 0,
            message: "unknown"
        ),
    ]

    @Test(arguments: cases)
    func isRefusedWithItsPlace(badInput: Case) throws {
        let parts = badInput.path.split(separator: "/").map(String.init)
        let bytes = try fixture(parts[0], parts[1])
        let format = PolicyFile.builtIn.format(forPath: badInput.path) ?? PolicyFile.builtIn.format(sniffing: bytes)
        #expect(format != nil)
        #expect {
            _ = try PolicyFile.builtIn.decode(bytes, file: badInput.path, format: format ?? .reg)
        } throws: { error in
            guard let error = error as? PolicyFormatError else { return false }
            return error.file == badInput.path && error.line == badInput.line
                && (badInput.object.map { error.object?.contains($0) == true } ?? (error.object == nil))
                && error.field == badInput.field && error.byteOffset == badInput.byteOffset
                && error.message.contains(badInput.message)
        }
    }

    @Test func overlongUnfoldedLDIFLineIsRefused() throws {
        let text = "version: 1\n\ndn: CN=x,DC=example\ndescription: " + String(repeating: "a", count: 70_000) + "\n"
        #expect {
            _ = try PolicyFile.builtIn.decode(Array(text.utf8), file: "long.ldif", format: .ldif)
        } throws: { error in
            let error = error as? PolicyFormatError
            return error?.line == 4 && error?.message.contains("must be folded") == true
        }
    }
}
