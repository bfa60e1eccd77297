import Foundation
import PolicyFormats
import PolicyModel
import Testing

/// The shipped policies of `policies-xml/` (the three Windows example policies among them) survive
/// XML → .reg → XML, XML → LDIF → XML and XML → DSML → XML unchanged.
@Suite struct DirectoryShippedPoliciesTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("policies-xml")

    /// The `.xml` files of `policies-xml/` (none until the native XML policies are in the tree).
    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".xml") }.sorted()
    }()

    static func store(_ name: String) throws -> PolicyStore {
        let path = directory.appendingPathComponent(name).path
        return try NativePolicyXML.read(Array(try Data(contentsOf: URL(fileURLWithPath: path))), file: path)
    }

    @Test(arguments: files)
    func survivesRegistryExport(name: String) throws {
        let store = try Self.store(name)
        for kind in RegistryStoreKind.allCases {
            let bytes = try RegistryExport.write(store, kind: kind)
            let back = try RegistryExport.read(bytes, file: name + ".reg").stores[kind]
            #expect(back == store)
            #expect(back.map { NativePolicyXML.write($0) } == NativePolicyXML.write(store))
        }
    }

    @Test(arguments: files)
    func survivesLDIFAndDSML(name: String) throws {
        var store = try Self.store(name)
        // A directory dump has no assigned policy: GPOs assign them.
        store.assignedPolicyID = nil
        let entries = try DirectoryPolicy.entries(store, container: "CN=IP Security,CN=System,DC=example,DC=com")
        let fromLDIF = try DirectoryPolicy.read(LDIF.entries(LDIF.write(entries), file: "x.ldif"), file: "x.ldif")
        #expect(NativePolicyXML.write(fromLDIF.store) == NativePolicyXML.write(store))
        let fromDSML = try DirectoryPolicy.read(DSML.entries(DSML.write(entries), file: "x.dsml"), file: "x.dsml")
        #expect(fromDSML.store == store)
    }
}
