// Merge + compile of persistent (1,000 rules) + directory (10,000 rules) + dynamic (100 rules): source
// selection, the merge with provenance, and the driver's weight order (FilterOrdering) — what the
// agent does on every policy change. Previous target: ≤ 50 ms, ≤ 64 MB.
import Benchmark
import PolicyModel
import Providers
import SuiteSupport

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = SuiteConfiguration.make(seconds: 3, iterations: 200)
    Benchmark("merge+compile-1k+10k+100-rules") { benchmark, reports in
        for _ in benchmark.scaledIterations {
            let selection = SourceSelector.select(reports)
            let merged = PolicyMerger.merge(selection.contributions, generation: 1)
            blackHole(FilterOrdering.sorted(merged.filters).count)
        }
    } setup: {
        mergeInputs()
    }
}

func mergeInputs() -> [NamedReport] {
    let persistent = SourcePolicy.assigned(
        in: store("Persistent", rules: 1_000, space: 0x10),
        location: "persistent.xml"
    )!
    let directory = SourcePolicy.assigned(in: store("Domain", rules: 10_000, space: 0x20), location: "snapshot.ldif")!
    let dynamicStore = store("Dynamic", rules: 100, space: 0x30)
    let dynamic = SourcePolicy(
        content: .filters(
            PolicyMerger.effectiveFilters(
                of: Contribution(
                    kind: .dynamic,
                    sourceName: "dynamic",
                    policy: SourcePolicy.assigned(in: dynamicStore, location: nil)!
                )
            )
        ),
        policyName: "Dynamic"
    )
    let reports = [
        NamedReport(name: "persistent", kind: .persistent, report: .policy(persistent)),
        NamedReport(name: "directory", kind: .directory, report: .policy(directory)),
        NamedReport(name: "directory-cache", kind: .directoryCache, report: .notConfigured(reason: nil)),
        NamedReport(name: "local", kind: .local, report: .notConfigured(reason: nil)),
        NamedReport(name: "dynamic", kind: .dynamic, report: .policy(dynamic)),
    ]
    return reports
}

func guid(_ n: Int, _ space: UInt8) -> IPsecGUID {
    var bytes = [UInt8](repeating: 0, count: 16)
    bytes[0] = space
    for shift in 0..<4 { bytes[15 - shift] = UInt8(truncatingIfNeeded: n >> (8 * shift)) }
    return IPsecGUID(bytes: bytes)!
}

/// A store with `count` rules, each with its own one-filter list and one of three shared actions.
func store(_ name: String, rules count: Int, space: UInt8) -> PolicyStore {
    let actions = FilterActionKind.allCases.enumerated().map { index, kind in
        FilterAction(id: guid(900_000 + index, space), name: kind.rawValue, action: kind)
    }
    var lists: [FilterList] = []
    var rules: [Rule] = []
    for index in 0..<count {
        let address = IPv4Address(value: IPv4Address(198, 18, 0, 0).value + UInt32(index % 131_072))
        let filter = Filter(
            id: guid(index, space &+ 1),
            source: .me,
            destination: index % 3 == 0 ? .host(address) : .subnet(address, mask: .mask(prefixLength: 24 + index % 8)),
            ipProtocol: index % 2 == 0 ? IPProtocol.tcp : IPProtocol.any,
            destinationPort: index % 2 == 0 ? UInt16(1 + index % 1000) : 0
        )
        lists.append(FilterList(id: guid(index, space), name: "list \(index)", filters: [filter]))
        rules.append(
            Rule(
                id: guid(index, space &+ 2),
                name: "rule \(index)",
                filterListIDs: [lists[index].id],
                filterActionID: actions[index % 3].id
            )
        )
    }
    let policy = IPsecPolicy(
        id: guid(0, space &+ 3),
        name: name,
        mainMode: MainModeSettings(id: guid(1, space &+ 3)),
        rules: rules
    )
    return PolicyStore(policies: [policy], filterLists: lists, filterActions: actions, assignedPolicyID: policy.id)
}
