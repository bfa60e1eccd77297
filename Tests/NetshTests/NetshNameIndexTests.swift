import IPsecTestKit
import PolicyModel
import Testing

/// `IndexedPolicyStore` (what a netsh session looks objects up in) against the store's linear lookups
/// (`PolicyStore.filterListMatch` and its siblings, which scan): on random adds, renames, deletes and
/// bulk changes with names in mixed letter case, duplicate names and names that look like GUIDs, every
/// lookup agrees, and the indexes kept up to date equal indexes built afresh.
@Suite struct NetshNameIndexTests {
    @Test func theIndexAgreesWithTheLinearLookupsOnRandomEdits() async throws {
        // CPU-heavy: off the cooperative pool.
        let problems = try await offThePool {
            var random = SplitMix(seed: 0x14)
            var problems: [String] = []
            for run in 0..<8 {
                var edits = RandomEdits(random: random)
                for step in 0..<150 {
                    let edit = edits.step()
                    problems += IndexCheck.disagreements(edits.indexed, references: edits.references())
                        .map { "run \(run) step \(step) (\(edit)): \($0)" }
                    if !problems.isEmpty { return problems }
                }
                random = edits.random
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems.prefix(5).joined(separator: "\n"))")
    }
}

/// Random edits of an indexed store, every one through the index's own operations.
private struct RandomEdits {
    var random: SplitMix
    var indexed = IndexedPolicyStore(PolicyStore())
    /// GUIDs of objects that were deleted: looked up too, they must match nothing.
    var removed: [IPsecGUID] = []

    static let names = ["Alpha", "beta", "Gamma Δέλτα", "Permit", "", "L1", "ΣΊΣΥΦΟΣ"]

    init(random: SplitMix) { self.random = random }

    mutating func guid() -> IPsecGUID { IPsecGUID.random(using: &random) }

    /// A pool name in random letter case, now and then the GUID of an object (a name that looks like one).
    mutating func name() -> String {
        if random.chance(8), let id = someID() { return id.braced }
        return Self.names[random.below(Self.names.count)].map { character in
            random.chance(2) ? character.uppercased() : character.lowercased()
        }.joined()
    }

    mutating func someID() -> IPsecGUID? {
        let store = indexed.store
        let ids = store.policies.map(\.id) + store.filterLists.map(\.id) + store.filterActions.map(\.id)
        return ids.isEmpty ? nil : random.pick(ids)
    }

    mutating func rule(defaultResponse: Bool = false) -> Rule {
        Rule(id: guid(), name: name(), isDefaultResponse: defaultResponse || random.chance(6))
    }

    /// One random edit; returns what it was.
    mutating func step() -> String {
        let store = indexed.store
        switch random.below(14) {
        case 0, 1:
            indexed.appendFilterList(FilterList(id: random.chance(10) ? someID() ?? guid() : guid(), name: name()))
            return "append filter list"
        case 2 where !store.filterLists.isEmpty:
            let position = random.below(store.filterLists.count)
            let newName = name()
            let newID = random.chance(5) ? guid() : nil
            indexed.modifyFilterList(at: position) { list in
                list.name = newName
                if let newID { list.id = newID }
                list.filters.append(Filter(id: IPsecGUID.random(), source: .me, destination: .any))
            }
            return "rename filter list \(position)"
        case 3 where !store.filterLists.isEmpty:
            let position = random.below(store.filterLists.count)
            removed.append(store.filterLists[position].id)
            indexed.removeFilterList(at: position)
            return "remove filter list \(position)"
        case 4:
            let type: FilterActionType = random.chance(3) ? .defaultResponse : .standard
            indexed.appendFilterAction(FilterAction(id: guid(), name: name(), action: .permit, type: type))
            return "append filter action"
        case 5 where !store.filterActions.isEmpty:
            let position = random.below(store.filterActions.count)
            let newName = name()
            let flip = random.chance(4)
            indexed.modifyFilterAction(at: position) { action in
                action.name = newName
                if flip { action.type = action.type == .standard ? .defaultResponse : .standard }
            }
            return "modify filter action \(position)"
        case 6 where !store.filterActions.isEmpty:
            let position = random.below(store.filterActions.count)
            removed.append(store.filterActions[position].id)
            indexed.removeFilterAction(at: position)
            return "remove filter action \(position)"
        case 7:
            let rules = (0..<random.below(4)).map { _ in rule() } + [rule(defaultResponse: true)]
            indexed.appendPolicy(
                IPsecPolicy(id: guid(), name: name(), mainMode: MainModeSettings(id: guid()), rules: rules)
            )
            return "append policy"
        case 8 where !store.policies.isEmpty:
            let position = random.below(store.policies.count)
            let newName = name()
            let newRule = rule()
            let change = random.below(4)
            indexed.modifyPolicy(at: position) { policy in
                policy.name = newName
                switch change {
                case 0: policy.rules.append(newRule)
                case 1 where !policy.rules.isEmpty: policy.rules.remove(at: policy.rules.count / 2)
                case 2 where !policy.rules.isEmpty: policy.rules[0].name = newRule.name
                default: policy.description = "edited"
                }
            }
            return "modify policy \(position) (\(change))"
        case 9 where !store.policies.isEmpty:
            let position = random.below(store.policies.count)
            let at = random.below(store.policies[position].rules.count + 1)
            indexed.insertRule(rule(), at: at, inPolicyAt: position)
            return "insert rule \(at) into policy \(position)"
        case 10 where !store.policies.isEmpty && !store.policies.allSatisfy(\.rules.isEmpty):
            let position = store.policies.indices.filter { !store.policies[$0].rules.isEmpty }.randomElement(
                using: &random
            )!
            let ruleIndex = random.below(store.policies[position].rules.count)
            let newName = name()
            let flip = random.chance(4)
            indexed.modifyRule(at: ruleIndex, inPolicyAt: position) { rule in
                rule.name = newName
                if flip { rule.isDefaultResponse.toggle() }
            }
            return "modify rule \(ruleIndex) of policy \(position)"
        case 11:
            let doomed = name().lowercased()
            indexed.modify { store in
                store.filterLists.removeAll { $0.name.lowercased() == doomed }
                store.policies.removeAll { $0.name.lowercased() == doomed }
            }
            return "bulk delete \"\(doomed)\""
        case 12 where !store.policies.isEmpty:
            indexed.assignedPolicyID = random.pick(store.policies).id
            return "assign"
        default:
            return "nothing"
        }
    }

    /// What to look up: every name in several letter cases, every GUID (present and deleted), junk.
    mutating func references() -> [String] {
        let store = indexed.store
        let ids = store.policies.map(\.id) + store.filterLists.map(\.id) + store.filterActions.map(\.id) + removed
        return Self.names + Self.names.map { $0.uppercased() } + Self.names.map { $0.lowercased() }
            + ids.map(\.braced) + ids.map { $0.braced.lowercased() } + ["{", "{not a guid}", "beta "]
    }
}

/// Compares an indexed store with the linear lookups of its store and with indexes built afresh.
private enum IndexCheck {
    static func disagreements(_ indexed: IndexedPolicyStore, references: [String]) -> [String] {
        let store = indexed.store
        var problems: [String] = []
        for reference in references {
            if indexed.policyMatch(reference) != store.policyMatch(reference) {
                problems.append(
                    "policy \"\(reference)\": \(indexed.policyMatch(reference)) ≠ \(store.policyMatch(reference))"
                )
            }
            if indexed.filterListMatch(reference) != store.filterListMatch(reference) {
                problems.append(
                    "filter list \"\(reference)\": \(indexed.filterListMatch(reference)) ≠ \(store.filterListMatch(reference))"
                )
            }
            if indexed.filterActionMatch(reference) != store.filterActionMatch(reference) {
                problems.append(
                    "filter action \"\(reference)\": \(indexed.filterActionMatch(reference)) ≠ \(store.filterActionMatch(reference))"
                )
            }
        }
        for list in store.filterLists where indexed.filterList(id: list.id) != store.filterList(id: list.id) {
            problems.append("filter list \(list.id.braced) by GUID")
        }
        for action in store.filterActions where indexed.filterAction(id: action.id) != store.filterAction(id: action.id)
        {
            problems.append("filter action \(action.id.braced) by GUID")
        }
        for policy in store.policies
        where indexed.policyPosition(id: policy.id) != store.policies.firstIndex(where: { $0.id == policy.id }) {
            problems.append("policy \(policy.id.braced) by GUID")
        }
        for (position, policy) in store.policies.enumerated() {
            let rules = indexed.rules(ofPolicyAt: position)
            let numbered = policy.rules.indices.filter { !policy.rules[$0].isDefaultResponse }
            for reference in references {
                let linear = numbered.first { policy.rules[$0].name.lowercased() == reference.lowercased() }
                if rules.firstPosition(named: reference) != linear {
                    problems.append("rule \"\(reference)\" of policy \(position)")
                }
            }
            for number in 0...(numbered.count + 1) {
                let linear = number >= 1 && number <= numbered.count ? numbered[number - 1] : nil
                if rules.position(number: number) != linear {
                    problems.append("rule number \(number) of policy \(position)")
                }
            }
            for ruleIndex in policy.rules.indices {
                if rules.number(at: ruleIndex) != numbered.firstIndex(of: ruleIndex).map({ $0 + 1 }) {
                    problems.append("number of rule \(ruleIndex) of policy \(position)")
                }
            }
        }
        // Kept up to date edit by edit, the indexes are what a fresh build gives.
        let fresh = IndexedPolicyStore(store)
        if fresh.policyNames != indexed.policyNames { problems.append("policy index differs from a fresh one") }
        if fresh.filterListNames != indexed.filterListNames { problems.append("filter list index differs") }
        if fresh.filterActionNames != indexed.filterActionNames { problems.append("filter action index differs") }
        for position in store.policies.indices
        where fresh.rules(ofPolicyAt: position) != indexed.rules(ofPolicyAt: position) {
            problems.append("rule index of policy \(position) differs from a fresh one")
        }
        return problems
    }
}
