public import PolicyModel

extension SyntheticPolicy {
    /// `policy` with every filter a rule of its own, as a netsh script of one rule per filter makes it
    /// (the restart benchmark's set-up): a provenance each (rule and filter list names and GUIDs; the
    /// policy's name, GUID and store shared) and a context box each. `ruleBoxEach`: every filter's rule
    /// part (actions, keying) in a box of its own as well, as the merger builds a rule per filter list;
    /// otherwise the filters keep the rule part boxes they had.
    public static func ruleByRule(_ policy: EffectivePolicy, ruleBoxEach: Bool = false) -> EffectivePolicy {
        var policy = policy
        let policyID = IPsecGUID(high: 0x1234_5678_9abc_def0, low: 0x0fed_cba9_8765_4321)
        for index in policy.filters.indices {
            let old = policy.filters[index]
            let provenance = Provenance(
                kind: .local,
                source: "local",
                store: "/var/lib/ipsecsvc/local-policy-store.xml",
                policyName: "Bench",
                policyID: policyID,
                ruleName: "R\(index)",
                ruleID: IPsecGUID(high: 0xaaaa_0000_0000_0000 | UInt64(index), low: UInt64(index) &* 0x9e37_79b9),
                filterListName: "L\(index)",
                filterListID: IPsecGUID(high: 0xbbbb_0000_0000_0000 | UInt64(index), low: UInt64(index) &* 0x7f4a_7c15),
                filterActionName: "Block"
            )
            if ruleBoxEach {
                policy.filters[index] = EffectiveFilter(
                    filter: old.filter,
                    inboundAction: old.inboundAction,
                    outboundAction: old.outboundAction,
                    interfaceType: old.interfaceType,
                    tunnelEndpoint: old.tunnelEndpoint,
                    provenance: provenance,
                    negotiation: old.negotiation
                )
            } else {
                policy.filters[index].provenance = provenance
            }
        }
        return policy
    }
}
