import PolicyModel

/// A small valid store in the shape of Windows' "Secure Server (Require Security)" plus a
/// lockdown policy, built from fixed GUIDs so that messages are predictable.
enum Fixtures {
    static func guid(_ n: Int) -> IPsecGUID {
        IPsecGUID("00000000-0000-4000-8000-\(String(repeating: "0", count: 12 - String(n).count))\(n)")!
    }

    static let allIP = guid(10)
    static let mgmt = guid(11)
    static let requireSecurity = guid(20)
    static let permit = guid(21)
    static let block = guid(22)
    static let defaultResponseAction = guid(23)
    static let secureServer = guid(1)
    static let lockdown = guid(2)

    static func host(_ text: String) -> FilterAddress { .host(IPv4Address(text)!) }
    static func subnet(_ text: String, _ mask: String) -> FilterAddress {
        .subnet(IPv4Address(text)!, mask: IPv4Address(mask)!)
    }

    static let negotiateOffers: [SecurityOffer] = [
        SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)]),
        SecurityOffer(transforms: [.ah(.sha1), .esp(encryption: .tripleDES, integrity: nil)]),
    ]

    static func store() -> PolicyStore {
        PolicyStore(
            policies: [
                IPsecPolicy(
                    id: secureServer,
                    name: "Secure Server (Require Security)",
                    mainMode: MainModeSettings(id: guid(100)),
                    rules: [
                        Rule(id: guid(200), name: "All IP", filterListIDs: [allIP], filterActionID: requireSecurity),
                        Rule(id: guid(201), filterActionID: defaultResponseAction, isDefaultResponse: true),
                    ]
                ),
                IPsecPolicy(
                    id: lockdown,
                    name: "Lockdown",
                    mainMode: MainModeSettings(id: guid(101)),
                    rules: [
                        Rule(
                            id: guid(202),
                            name: "Mgmt",
                            filterListIDs: [mgmt],
                            filterActionID: permit,
                            authenticationMethods: [.preSharedKey("secret")]
                        ),
                        Rule(id: guid(203), name: "Telnet", filterListIDs: [allIP], filterActionID: block),
                    ]
                ),
            ],
            filterLists: [
                FilterList(
                    id: allIP,
                    name: "All IP Traffic",
                    filters: [Filter(id: guid(300), source: .me, destination: .any)]
                ),
                FilterList(
                    id: mgmt,
                    name: "Mgmt",
                    filters: [
                        Filter(id: guid(301), source: .me, destination: subnet("198.18.0.0", "255.255.255.0")),
                        Filter(
                            id: guid(302),
                            source: .me,
                            destination: host("198.18.0.9"),
                            ipProtocol: IPProtocol.tcp,
                            destinationPort: 22
                        ),
                        Filter(id: guid(303), source: .me, destination: .server(.dns), ipProtocol: IPProtocol.udp),
                    ]
                ),
            ],
            filterActions: [
                FilterAction(
                    id: requireSecurity,
                    name: "Require Security",
                    action: .negotiate,
                    inboundPassThrough: true,
                    offers: negotiateOffers
                ),
                FilterAction(id: permit, name: "Permit", action: .permit),
                FilterAction(id: block, name: "Block", action: .block),
                FilterAction(
                    id: defaultResponseAction,
                    name: "",
                    action: .negotiate,
                    type: .defaultResponse,
                    offers: negotiateOffers
                ),
            ],
            assignedPolicyID: secureServer
        )
    }
}
