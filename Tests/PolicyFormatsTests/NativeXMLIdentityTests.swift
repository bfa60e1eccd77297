import Foundation
import PolicyFormats
import PolicyModel
import Testing

/// What the store reader enforces about identity and size, which every store write checks first
/// (`PolicyStore.storageProblems()`): the two must agree, or a write could leave a store that does not load.
@Suite struct NativeXMLIdentityTests {
    /// Names are labels: two filter lists called "Telnet" with their own GUIDs read as two lists.
    @Test func objectsOfOneKindMayShareAName() throws {
        var store = PolicyStore()
        for n in 1...2 {
            store.filterLists.append(FilterList(id: NativeXMLFixtures.guid(n), name: "Telnet"))
            store.filterActions.append(
                FilterAction(id: NativeXMLFixtures.guid(10 + n), name: "Permit", action: .permit)
            )
        }
        let read = try NativePolicyXML.read(NativePolicyXML.write(store), file: "same-names.xml")
        #expect(read == store)
        #expect(read.storageProblems() == [])
    }

    /// The schema's `maxLength` facets are the model's text limits.
    @Test func schemaLimitsAreTheModelsLimits() {
        func limit(_ type: String) -> Int? {
            let schema = NativePolicyXML.schema
            guard let start = schema.firstRange(of: "<xs:simpleType name=\"\(type)\">"),
                let facet = schema[start.upperBound...].firstRange(of: "<xs:maxLength value=\"")
            else { return nil }
            return Int(schema[facet.upperBound...].prefix { $0 != "\"" })
        }
        typealias Text = ValidationLimits.Text
        #expect(limit("Name") == Text.name)
        #expect(limit("Description") == Text.description)
        #expect(limit("HostName") == Text.dnsName)
        #expect(limit("Secret") == Text.preSharedKey)
        #expect(limit("AuthorityName") == Text.certificateAuthority)
    }

    /// Each text at its limit is stored and read back; one character more is refused by both the
    /// model's check and the reader, so a write that passes the check always loads.
    @Test(arguments: TextField.allCases)
    func eachTextLimitHoldsInTheModelAndTheReader(_ field: TextField) throws {
        let atLimit = field.store(length: field.limit)
        #expect(atLimit.storageProblems() == [])
        #expect(try NativePolicyXML.read(NativePolicyXML.write(atLimit), file: "limit.xml") == atLimit)
        let over = field.store(length: field.limit + 1)
        #expect(over.storageProblems().count == 1)
        #expect(throws: PolicyFormatError.self) {
            try NativePolicyXML.read(NativePolicyXML.write(over), file: "over.xml")
        }
    }

    enum TextField: CaseIterable, Sendable {
        case policyName, ruleDescription, filterDescription, dnsName, preSharedKey, authority, tunnelName

        var limit: Int {
            switch self {
            case .policyName: ValidationLimits.Text.name
            case .ruleDescription, .filterDescription: ValidationLimits.Text.description
            case .dnsName, .tunnelName: ValidationLimits.Text.dnsName
            case .preSharedKey: ValidationLimits.Text.preSharedKey
            case .authority: ValidationLimits.Text.certificateAuthority
            }
        }

        /// A small valid store with this field `length` characters long (non-ASCII, to count characters).
        func store(length: Int) -> PolicyStore {
            let text = String(repeating: "é", count: length)
            var filter = Filter(id: NativeXMLFixtures.guid(3), source: .me, destination: .any)
            var rule = Rule(
                id: NativeXMLFixtures.guid(4),
                name: "r",
                filterListIDs: [NativeXMLFixtures.guid(1)],
                filterActionID: NativeXMLFixtures.guid(2)
            )
            var name = "p"
            switch self {
            case .policyName: name = text
            case .ruleDescription: rule.description = text
            case .filterDescription: filter.description = text
            case .dnsName: filter.destination = .dnsName(text, address: IPv4Address(198, 18, 0, 1))
            case .preSharedKey: rule.authenticationMethods = [.preSharedKey(text)]
            case .authority: rule.authenticationMethods = [.certificate(CertificateAuthority(name: text))]
            case .tunnelName:
                rule.tunnelEndpoint = IPv4Address(198, 18, 0, 2)
                rule.tunnelEndpointName = text
            }
            return PolicyStore(
                policies: [
                    IPsecPolicy(
                        id: NativeXMLFixtures.guid(5),
                        name: name,
                        mainMode: MainModeSettings(id: NativeXMLFixtures.guid(6)),
                        rules: [rule]
                    )
                ],
                filterLists: [FilterList(id: NativeXMLFixtures.guid(1), name: "l", filters: [filter])],
                filterActions: [FilterAction(id: NativeXMLFixtures.guid(2), name: "a", action: .permit)]
            )
        }
    }
}
