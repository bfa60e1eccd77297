import PolicyModel

/// A small store with one of everything the listing prints, built from fixed GUIDs.
enum ListingFixture {
    static func guid(_ n: Int) -> IPsecGUID {
        IPsecGUID("00000000-0000-4000-8000-\(String(repeating: "0", count: 12 - String(n).count))\(n)")!
    }

    static func store() -> PolicyStore {
        let mgmt = FilterList(
            id: guid(10),
            name: "Mgmt",
            whenChanged: 1_764_417_600,
            filters: [
                Filter(
                    id: guid(11),
                    description: "ssh",
                    source: .me,
                    destination: .subnet(IPv4Address(198, 18, 0, 0), mask: IPv4Address(255, 255, 255, 0)),
                    ipProtocol: IPProtocol.tcp,
                    destinationPort: 22
                ),
                Filter(id: guid(12), mirrored: false, source: .server(.dns), destination: .me, ipProtocol: 17),
            ]
        )
        let require = FilterAction(
            id: guid(20),
            name: "Require Security",
            action: .negotiate,
            inboundPassThrough: true,
            offers: [
                SecurityOffer(
                    transforms: [.esp(encryption: .tripleDES, integrity: .sha1)],
                    lifetimeKilobytes: 100_000,
                    lifetimeSeconds: 3600
                ),
                SecurityOffer(transforms: [.ah(.md5), .esp(encryption: .des, integrity: nil)]),
            ]
        )
        let response = FilterAction(
            id: guid(21),
            name: "",
            action: .negotiate,
            type: .defaultResponse,
            offers: [SecurityOffer(transforms: [.ah(.sha1)])]
        )
        let policy = IPsecPolicy(
            id: guid(1),
            name: "Lockdown",
            description: "Management only",
            whenChanged: 1_764_417_600,
            mainMode: MainModeSettings(id: guid(2), lifetimeSeconds: 0),
            rules: [
                Rule(
                    id: guid(3),
                    name: "Mgmt",
                    filterListIDs: [mgmt.id],
                    filterActionID: require.id,
                    authenticationMethods: [
                        .preSharedKey("s3cret"), .certificate(.init(name: "CN=Root", excludeCAName: true)),
                    ],
                    interfaceType: .lan,
                    tunnelEndpoint: IPv4Address(198, 18, 9, 9)
                ),
                Rule(id: guid(4), filterActionID: response.id, isActive: false, isDefaultResponse: true),
            ]
        )
        return PolicyStore(
            policies: [policy],
            filterLists: [mgmt],
            filterActions: [require, response],
            assignedPolicyID: policy.id
        )
    }
}
