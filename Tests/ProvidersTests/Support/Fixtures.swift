import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Providers

/// Stores as JSON: lets the store mechanics be tested without the native XML format.
struct JSONStoreCodec: PolicyStoreCodec {
    func decode(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> PolicyStore {
        do {
            return try JSONDecoder().decode(PolicyStore.self, from: Data(bytes))
        } catch {
            throw PolicyFormatError(file: file, line: 1, message: "not a JSON policy store: \(error)")
        }
    }

    func encode(_ store: PolicyStore) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(store)) ?? Data())
    }
}

/// Small policy builders; every address is in 198.18.0.0/15.
enum Fixtures {
    /// A deterministic GUID: `n` in the last bytes, `space` in the first.
    static func guid(_ n: Int, space: UInt8 = 0) -> IPsecGUID {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[0] = space
        bytes[12] = UInt8(truncatingIfNeeded: n >> 24)
        bytes[13] = UInt8(truncatingIfNeeded: n >> 16)
        bytes[14] = UInt8(truncatingIfNeeded: n >> 8)
        bytes[15] = UInt8(truncatingIfNeeded: n)
        return IPsecGUID(bytes: bytes)!
    }

    static func host(_ last: UInt8, net: UInt8 = 0) -> FilterAddress { .host(IPv4Address(198, 18, net, last)) }

    /// One rule of a fixture policy: a filter and an action.
    struct RuleSpec {
        var name: String
        var source: FilterAddress
        var destination: FilterAddress
        var action: FilterActionKind
        var ipProtocol: UInt8 = IPProtocol.any
        var destinationPort: UInt16 = 0
        var mirrored = true
    }

    /// A store with one policy made of `rules`, assigned unless told otherwise. `space` keeps GUIDs of
    /// different fixtures apart.
    static func store(_ name: String, space: UInt8, rules: [RuleSpec], assigned: Bool = true) -> PolicyStore {
        var lists: [FilterList] = []
        var actions: [FilterAction] = []
        var modelRules: [Rule] = []
        for (index, spec) in rules.enumerated() {
            let list = FilterList(
                id: guid(1000 + index, space: space),
                name: "\(spec.name) list",
                filters: [
                    Filter(
                        id: guid(2000 + index, space: space),
                        mirrored: spec.mirrored,
                        source: spec.source,
                        destination: spec.destination,
                        ipProtocol: spec.ipProtocol,
                        destinationPort: spec.destinationPort
                    )
                ]
            )
            let action = FilterAction(
                id: guid(3000 + index, space: space),
                name: "\(spec.name) action",
                action: spec.action
            )
            lists.append(list)
            actions.append(action)
            modelRules.append(
                Rule(
                    id: guid(4000 + index, space: space),
                    name: spec.name,
                    filterListIDs: [list.id],
                    filterActionID: action.id
                )
            )
        }
        // The default response rule, as Windows stores it: no filters, a default-response action.
        let response = FilterAction(
            id: guid(3999, space: space),
            name: "\(name) default response",
            action: .negotiate,
            type: .defaultResponse,
            offers: [SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)])]
        )
        actions.append(response)
        modelRules.append(
            Rule(id: guid(4999, space: space), name: "", filterActionID: response.id, isDefaultResponse: true)
        )
        let policy = IPsecPolicy(
            id: guid(1, space: space),
            name: name,
            mainMode: MainModeSettings(id: guid(2, space: space)),
            rules: modelRules
        )
        return PolicyStore(
            policies: [policy],
            filterLists: lists,
            filterActions: actions,
            assignedPolicyID: assigned ? policy.id : nil
        )
    }

    /// A one-rule store whose single filter blocks or permits traffic to `198.18.<space>.1`.
    static func simple(_ name: String, space: UInt8, action: FilterActionKind = .block) -> PolicyStore {
        store(
            name,
            space: space,
            rules: [RuleSpec(name: "\(name) rule", source: .me, destination: host(1, net: space), action: action)]
        )
    }
}

extension TemporaryDirectory {
    /// The directory as the service's state directory.
    var state: StateDirectory { StateDirectory(path: path) }
}
