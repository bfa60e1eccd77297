import Foundation
import PolicyFormats
import PolicyModel
import Testing

/// The shipped policies in `policies-xml/`: valid, in canonical form, and using documentation addresses.
@Suite struct NativeXMLExamplesTests {
    static let shipped = [
        "client-respond-only.xml", "server-request-security.xml", "secure-server-require-security.xml",
        "block-telnet-smb.xml", "secure-server-subnet.xml", "always-allow-management.xml",
    ]

    @Test func everyShippedFileIsListed() throws {
        let directory = NativeXMLFixtures.packageRoot.appendingPathComponent("policies-xml").path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".xml") }
        #expect(Set(files) == Set(Self.shipped))
    }

    @Test(arguments: shipped)
    func writingWhatWasReadGivesTheSameBytes(_ name: String) throws {
        let bytes = try NativeXMLFixtures.bytes("policies-xml/" + name)
        let store = try NativePolicyXML.read(bytes, file: name)
        let written = NativePolicyXML.write(store)
        #expect(written == bytes, "run: swift run xml-bench canonicalize policies-xml/\(name)")
        #expect(try NativePolicyXML.read(written, file: name) == store)
        #expect(written.text.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!--\n"))
    }

    @Test(arguments: shipped)
    func usesOnlyDocumentationAddresses(_ name: String) throws {
        let store = try NativePolicyXML.read(try NativeXMLFixtures.bytes("policies-xml/" + name), file: name)
        let benchmarking = IPv4Address(198, 18, 0, 0).value
        var addresses: [IPv4Address] = store.policies.flatMap { $0.rules.compactMap(\.tunnelEndpoint) }
        for filter in store.filterLists.flatMap(\.filters) {
            for side in [filter.source, filter.destination] {
                switch side {
                case .host(let address), .subnet(let address, _), .dnsName(_, let address): addresses.append(address)
                case .me, .any, .server: break
                }
            }
        }
        for address in addresses { #expect(address.value & 0xFFFE_0000 == benchmarking, "\(address)") }
    }

    @Test func windowsExamplesUseTheWellKnownGUIDs() throws {
        let server = try NativePolicyXML.read(
            try NativeXMLFixtures.bytes("policies-xml/server-request-security.xml"),
            file: "server"
        )
        let policy = try #require(server.policy(named: "Server (Request Security)"))
        #expect(policy.id == IPsecGUID("{72385230-70FA-11D1-864C-14A300000000}"))
        #expect(policy.defaultResponseRule != nil)
        #expect(server.filterList(named: "All IP Traffic")?.filters.first?.source == .me)
        #expect(server.filterList(named: "All ICMP Traffic")?.filters.first?.ipProtocol == IPProtocol.icmp)
        let request = try #require(server.filterAction(named: "Request Security (Optional)"))
        #expect(request.action == .negotiate && request.inboundPassThrough && request.allowFallbackToClear)
        let secure = try NativePolicyXML.read(
            try NativeXMLFixtures.bytes("policies-xml/secure-server-require-security.xml"),
            file: "secure"
        )
        let require = try #require(secure.filterAction(named: "Require Security"))
        #expect(require.inboundPassThrough && !require.allowFallbackToClear)
        let client = try NativePolicyXML.read(
            try NativeXMLFixtures.bytes("policies-xml/client-respond-only.xml"),
            file: "client"
        )
        #expect(client.policies.first?.rules.count == 1)
        #expect(client.policies.first?.rules.first?.isDefaultResponse == true)
    }
}
