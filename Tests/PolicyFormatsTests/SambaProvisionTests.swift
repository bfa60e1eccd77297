import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Synchronization
import Testing

/// Windows' own default IP Security objects, as Samba provisions them in every new domain
/// (`Fixtures/windows/samba-provision-ipsec.ldif`, taken from Debian's samba-ad-provision; the installed
/// `/usr/share/samba/setup/provision.ldif` too when present). They carry `ipsecDataType: 598`, and they
/// decode to the three example policies of `policies-xml/`.
@Suite struct SambaProvisionTests {
    static let fixture = NativeXMLFixtures.packageRoot
        .appendingPathComponent("Tests/PolicyFormatsTests/Fixtures/windows/samba-provision-ipsec.ldif").path
    static let installed = "/usr/share/samba/setup/provision.ldif"
    static let examples = [
        "client-respond-only.xml", "server-request-security.xml", "secure-server-require-security.xml",
    ]

    static func read(_ path: String) throws -> DirectoryPolicyImport {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        return try DirectoryPolicy.read(LDIF.entries(bytes, file: path), file: path)
    }

    static func shipped() throws -> PolicyStore {
        var store = PolicyStore()
        for name in examples {
            store.merge(try NativePolicyXML.read(try NativeXMLFixtures.bytes("policies-xml/" + name), file: name))
        }
        return store
    }

    /// The same objects, whatever their order in the file.
    static func expectSameObjects(
        _ read: PolicyStore,
        _ expected: PolicyStore,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(Set(read.policies) == Set(expected.policies), sourceLocation: sourceLocation)
        #expect(Set(read.filterLists) == Set(expected.filterLists), sourceLocation: sourceLocation)
        #expect(Set(read.filterActions) == Set(expected.filterActions), sourceLocation: sourceLocation)
        #expect(read.policies.count == 3 && read.filterLists.count == 2 && read.filterActions.count == 6)
        #expect(read.assignedPolicyID == nil && expected.assignedPolicyID == nil, sourceLocation: sourceLocation)
    }

    @Test func theDefaultObjectsDecodeToTheShippedExamples() throws {
        let result = try Self.read(Self.fixture)
        Self.expectSameObjects(result.store, try Self.shipped())
        #expect(result.store.validate() == [])
    }

    /// 598 is read like 256 and said: all 22 IPsec objects of the dump carry it (the "Version Information
    /// Object" rule too, which no policy uses and which is therefore not decoded).
    @Test func ipsecDataType598IsReadAndNoted() throws {
        let result = try Self.read(Self.fixture)
        #expect(result.ipsecDataTypes == [598: 22])
        #expect(
            result.dataTypeNote
                == "ipsecDataType 598 on 22 objects (the value of Windows' default IP Security objects, as Samba provisions them) and 256 on 0; both are read alike"
        )
        let notes = NoteCollector()
        _ = try PolicyFile.builtIn.read(path: Self.fixture, options: PolicyFileOptions(report: { notes.add($0) }))
        #expect(notes.lines.contains { $0.hasPrefix(Self.fixture + ": ipsecDataType 598 on 22 objects") })
    }

    @Test func dsmlCarriesTheSameData() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Self.fixture)))
        let entries = try LDIF.entries(bytes, file: "samba.ldif")
        let dsml = DSML.write(entries)
        let result = try DirectoryPolicy.read(try DSML.entries(dsml, file: "samba.dsml"), file: "samba.dsml")
        #expect(result.ipsecDataTypes == [598: 22])
        Self.expectSameObjects(result.store, try Self.shipped())
    }

    @Test func otherDataTypesAreStillRefused() throws {
        let text = try String(contentsOfFile: Self.fixture, encoding: .utf8)
            .replacingOccurrences(of: "ipsecDataType: 598", with: "ipsecDataType: 599")
        let error = #expect(throws: PolicyFormatError.self) {
            try DirectoryPolicy.read(LDIF.entries(Array(text.utf8), file: "x.ldif"), file: "x.ldif")
        }
        #expect(error?.message == "ipsecDataType is 599, expected 256 (0x100) or 598 (Windows' default objects)")
    }

    /// The whole provisioning file as installed, with its template variables filled in.
    @Test(
        .requires(
            .check(
                FileManager.default.fileExists(atPath: installed),
                "\(installed) (apt-get install -y samba-ad-provision)"
            )
        )
    )
    func theInstalledProvisioningDataDecodesToTheSameStore() throws {
        var text = try String(contentsOfFile: Self.installed, encoding: .utf8)
            .replacingOccurrences(of: "${DOMAINDN}", with: "DC=example,DC=com")
        while let start = text.range(of: "${"), let end = text[start.upperBound...].firstIndex(of: "}") {
            // The other variables are security descriptors (base64), times and numbers: any valid base64.
            text.replaceSubrange(start.lowerBound...end, with: "AAAA")
        }
        let result = try DirectoryPolicy.read(
            LDIF.entries(Array(text.utf8), file: Self.installed),
            file: Self.installed
        )
        Self.expectSameObjects(result.store, try Self.read(Self.fixture).store)
        Self.expectSameObjects(result.store, try Self.shipped())
        #expect(result.ipsecDataTypes == [598: 22])
    }
}

/// Collects `PolicyFileOptions.report` lines.
final class NoteCollector: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    func add(_ line: String) { storage.withLock { $0.append(line) } }
}
