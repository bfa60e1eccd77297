import Foundation
import PolicyFormats
import PolicyModel
import Testing

@Suite struct PolicyListingTests {
    private let text = PolicyListing.text(ListingFixture.store())

    private var lines: [String] { text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }

    @Test func filterBlockLooksLikeNetsh() {
        let expected = [
            "  Filter 1",
            "    Description             : ssh",
            "    Mirrored                : YES",
            "    Source IP Address       : <My IP Address>",
            "    Source Mask             : 255.255.255.255",
            "    Destination IP Address  : 198.18.0.0",
            "    Destination Mask        : 255.255.255.0",
            "    Protocol                : TCP",
            "    Source Port             : ANY",
            "    Destination Port        : 22",
            "    Weight                  : 453",
        ].joined(separator: "\n")
        #expect(text.contains(expected + "\n"))
    }

    @Test func policyShowsMainModeAndRules() {
        for line in [
            "Policy \"Lockdown\"",
            "  Assigned                  : YES",
            "  Last Modified             : 2025-11-29 12:00:00 UTC",
            "  Polling Interval          : 180 minutes",
            "  Main Mode Lifetime        : 480 minutes (default)",
            "  Quick Modes per Main Mode : 0 (unlimited)",
            "  Main Mode Methods         : 3DES-SHA1-2 3DES-MD5-2 DES-SHA1-1 DES-MD5-1",
            "  Rule 1 \"Mgmt\"",
            "    Filter Lists            : \"Mgmt\"",
            "    Filter Action           : \"Require Security\" (NEGOTIATE SECURITY)",
            "    Authentication          : 1. Preshared key \"s3cret\"",
            "                            : 2. Root CA \"CN=Root\" (excludecaname)",
            "    Tunnel Endpoint         : 198.18.9.9",
            "    Connection Type         : LAN",
            "  Default Response Rule",
            "    Active                  : NO",
            "    Filter Lists            : <Dynamic>",
            "  Security Methods          : 1. ESP[3DES,SHA1]:100000k/3600s",
            "                            : 2. AH[MD5]+ESP[DES,None]",
            "Filter Action <unnamed>",
            "  Type                      : DEFAULT RESPONSE",
        ] {
            #expect(lines.contains(line), "missing: \(line)")
        }
    }

    @Test func colonsLineUpAndNoTrailingSpace() {
        for line in lines where line.contains(" : ") || line.hasSuffix(":") {
            #expect(line.firstIndex(of: ":").map { line.distance(from: line.startIndex, to: $0) } == 28, "\(line)")
        }
        #expect(!lines.contains { $0.hasSuffix(" ") })
    }

    @Test func sectionsCountObjects() {
        #expect(text.hasPrefix("Policies: 1\n"))
        #expect(lines.contains("Filter lists: 1"))
        #expect(lines.contains("Filter actions: 2"))
        #expect(PolicyListing.text(PolicyStore()) == "Policies: 0\n\nFilter lists: 0\n\nFilter actions: 0\n")
    }

    @Test func danglingReferencesAreShownNotHidden() {
        var store = ListingFixture.store()
        store.filterLists = []
        #expect(text(store).contains("Filter Lists            : missing {00000000-0000-4000-8000-000000000010}"))
    }

    private func text(_ store: PolicyStore) -> String { PolicyListing.text(store) }

    @Test func timestampsAreUTCCalendarDates() {
        #expect(ListingFormat.timestamp(0) == "1970-01-01 00:00:00 UTC")
        #expect(ListingFormat.timestamp(951_782_400) == "2000-02-29 00:00:00 UTC")
        #expect(ListingFormat.timestamp(-1) == "1969-12-31 23:59:59 UTC")
    }
}

@Suite struct PolicyListingJSONTests {
    private func document(_ store: PolicyStore = ListingFixture.store()) throws -> [String: Any] {
        let data = Data(PolicyListingJSON.text(store).utf8)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func topLevelShape() throws {
        let json = try document()
        #expect(Set(json.keys) == ["formatVersion", "assignedPolicyID", "policies", "filterLists", "filterActions"])
        #expect(json["formatVersion"] as? Int == 1)
        #expect(json["assignedPolicyID"] as? String == "{00000000-0000-4000-8000-000000000001}")
        #expect(try Set(document(PolicyStore()).keys) == ["formatVersion", "policies", "filterLists", "filterActions"])
    }

    @Test func filtersCarryAddressesProtocolAndWeight() throws {
        let lists = try #require(try document()["filterLists"] as? [[String: Any]])
        let filters = try #require(lists.first?["filters"] as? [[String: Any]])
        let ssh = filters[0]
        #expect(ssh["ipProtocol"] as? Int == 6)
        #expect(ssh["protocolName"] as? String == "TCP")
        #expect(ssh["destinationPort"] as? Int == 22)
        #expect(ssh["weight"] as? Int == 453)
        #expect(ssh["source"] as? [String: String] == ["kind": "me"])
        #expect(
            ssh["destination"] as? [String: String] == [
                "kind": "subnet", "address": "198.18.0.0", "mask": "255.255.255.0",
            ]
        )
        #expect(filters[1]["source"] as? [String: String] == ["kind": "server", "server": "DNS"])
    }

    @Test func rulesNameTheirReferencesAndAuthentication() throws {
        let policies = try #require(try document()["policies"] as? [[String: Any]])
        let rules = try #require(policies.first?["rules"] as? [[String: Any]])
        #expect(
            rules[0]["filterLists"] as? [[String: String]] == [
                ["id": "{00000000-0000-4000-8000-000000000010}", "name": "Mgmt"]
            ]
        )
        let auth = try #require(rules[0]["authentication"] as? [[String: Any]])
        #expect(auth[0]["method"] as? String == "psk")
        #expect(auth[1]["certificateAuthority"] as? String == "CN=Root")
        #expect(rules[0]["tunnelEndpoint"] as? String == "198.18.9.9")
        #expect(rules[1]["defaultResponse"] as? Bool == true)
        #expect(rules[1]["tunnelEndpoint"] == nil)
    }

    @Test func offersUseNetshSpelling() throws {
        let actions = try #require(try document()["filterActions"] as? [[String: Any]])
        let offers = try #require(actions[0]["offers"] as? [[String: Any]])
        #expect(offers.map { $0["text"] as? String } == ["ESP[3DES,SHA1]:100000k/3600s", "AH[MD5]+ESP[DES,None]"])
        #expect(actions[1]["type"] as? String == "default-response")
    }

    @Test func outputIsStableAndSorted() {
        let first = PolicyListingJSON.text(ListingFixture.store())
        #expect(first == PolicyListingJSON.text(ListingFixture.store()))
        #expect(first.hasSuffix("}\n"))
        let assigned = first.range(of: "\"assignedPolicyID\"")
        let policies = first.range(of: "\"policies\"")
        #expect(assigned.map(\.lowerBound) ?? first.endIndex < policies.map(\.lowerBound) ?? first.startIndex)
    }
}
