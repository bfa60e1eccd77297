import Foundation
import Plugins
import PolicyFormats
import PolicyModel
import Testing

/// A plugin's document passes the same reader and checks as an imported file: the store's text limits
/// and identity rules hold for it too.
@Suite struct PluginDocumentLimitsTests {
    static func document(policyName: String, secondPermit: Bool = false) -> [UInt8] {
        func guid(_ n: Int) -> IPsecGUID {
            IPsecGUID("{00000000-0000-4000-8000-0000000000\(String(format: "%02x", n))}")!
        }
        var actions = [FilterAction(id: guid(2), name: "Permit", action: .permit)]
        if secondPermit { actions.append(FilterAction(id: guid(3), name: "Permit", action: .permit)) }
        let store = PolicyStore(
            policies: [
                IPsecPolicy(
                    id: guid(4),
                    name: policyName,
                    mainMode: MainModeSettings(id: guid(5)),
                    rules: [Rule(id: guid(6), name: "r", filterListIDs: [guid(1)], filterActionID: guid(2))]
                )
            ],
            filterLists: [
                FilterList(id: guid(1), name: "l", filters: [Filter(id: guid(7), source: .me, destination: .any)])
            ],
            filterActions: actions,
            assignedPolicyID: guid(4)
        )
        return NativePolicyXML.write(store)
    }

    @Test func anOverLongNameIsRefusedInAShortMessage() {
        let bytes = Self.document(policyName: String(repeating: "p", count: 5_000))
        let error = #expect(throws: (any Error).self) {
            try PluginDocumentValidator.native.validate(bytes, "plugin:cmdb")
        }
        let text = error.map { String(describing: $0) } ?? ""
        #expect(
            text.contains("plugin:cmdb") && text.contains("5000 characters is longer than the limit of 1024"),
            "\(text)"
        )
        #expect(text.count < 500)
    }

    @Test func objectsMayShareANameAsInAnImport() throws {
        let store = try PluginDocumentValidator.native.validate(
            Self.document(policyName: "p", secondPermit: true),
            "plugin:cmdb"
        )
        #expect(store.filterActions.filter { $0.name == "Permit" }.count == 2)
    }
}
