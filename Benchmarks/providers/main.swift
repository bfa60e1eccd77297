// Providers benchmark (release build, run once):
//   swift build -c release --product ProvidersBenchmark && .build/release/ProvidersBenchmark
// 1. Merge and compile persistent (1,000 rules) + directory (10,000 rules) + dynamic (100 rules):
//    selection, merge with provenance, and the driver's weight order. Target ≤ 50 ms, ≤ 64 MB.
// 2. Group-policy resolution in a directory of 5,000 OUs and 2,000 GPOs. Target ≤ 100 ms.
import PolicyModel
import Providers

#if canImport(Glibc)
import Glibc
#endif

/// Peak resident set size so far (VmHWM), in MiB.
func peakMiB() -> Double {
    guard let file = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("VmHWM:") {
            let digits = text.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
            return digits / 1024
        }
    }
    return 0
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
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

func mergeBenchmark() {
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
    let before = peakMiB()
    let clock = ContinuousClock()
    var filterCount = 0
    var selection: Selection?
    var merged: EffectivePolicy?
    let selectTime = clock.measure { selection = SourceSelector.select(reports) }
    let mergeTime = clock.measure { merged = PolicyMerger.merge(selection!.contributions, generation: 1) }
    let sortTime = clock.measure {
        _ = FilterOrdering.sorted(merged!.filters)
    }
    print(
        "  first run: select \(format3(milliseconds(selectTime))) merge \(format3(milliseconds(mergeTime))) sort \(format3(milliseconds(sortTime)))"
    )
    let elapsed = clock.measure {
        let selection = SourceSelector.select(reports)
        let merged = PolicyMerger.merge(selection.contributions, generation: 1)
        // Compile: the driver's order (PolicyModel's FilterOrdering).
        filterCount = FilterOrdering.sorted(merged.filters).count
    }
    print(
        "merge+compile: \(filterCount) filters in \(format3(milliseconds(elapsed))) ms; "
            + "peak RSS \(format3(peakMiB())) MiB (\(format3(before)) MiB before merging, inputs included)"
    )
}

func resolutionBenchmark() {
    let domain = "DC=example,DC=test"
    var entries: [DirectoryEntryModel] = []
    entries.append(.init(dn: domain, classes: ["domain"]))
    let gpoCount = 2_000
    for n in 0..<gpoCount {
        let gpoDN = "CN={\(guid(n, 0xAA).plain)},CN=Policies,CN=System,\(domain)"
        entries.append(.init(dn: gpoDN, classes: ["groupPolicyContainer"], extra: ["displayName": ["GPO \(n)"]]))
        if n % 10 == 0 {
            let policyDN = "CN=ipsecPolicy{\(guid(n, 0xBB).plain)},CN=IP Security,CN=System,\(domain)"
            entries.append(.init(dn: policyDN, classes: ["ipsecPolicy"]))
            entries.append(
                .init(
                    dn: GroupPolicyResolver.assignmentDN(forGPO: gpoDN),
                    classes: ["ipsecPolicy"],
                    extra: ["ipsecOwnersReference": [policyDN]]
                )
            )
        }
    }
    // 5,000 OUs: 50 top-level OUs, each a chain of 100 nested OUs; every OU links two GPOs.
    var deepest = ""
    for top in 0..<50 {
        var parent = domain
        for depth in 0..<100 {
            let dn = "OU=ou\(top)-\(depth),\(parent)"
            let a = (top * 100 + depth) % gpoCount
            let b = (top * 100 + depth + 7) % gpoCount
            let link =
                "[LDAP://CN={\(guid(a, 0xAA).plain)},CN=Policies,CN=System,\(domain);0]"
                + "[LDAP://CN={\(guid(b, 0xAA).plain)},CN=Policies,CN=System,\(domain);\(depth % 5 == 0 ? 2 : 0)]"
            entries.append(
                .init(
                    dn: dn,
                    classes: ["organizationalUnit"],
                    extra: ["gPLink": [link], "gPOptions": [depth == 50 ? "1" : "0"]]
                )
            )
            parent = dn
        }
        if top == 0 { deepest = parent }
    }
    let computer = "CN=PC1,\(deepest)"
    entries.append(.init(dn: computer, classes: ["computer"]))
    let directoryEntries = entries.map(\.entry)
    let clock = ContinuousClock()
    var tree: DirectoryTree?
    let indexing = clock.measure { tree = DirectoryTree(entries: directoryEntries) }
    var outcome = ""
    let resolving = clock.measure {
        let resolution = try? GroupPolicyResolver.resolve(in: tree!, computerDN: computer, site: nil)
        outcome = resolution.map { "\($0.gpos.count) GPOs apply, outcome \($0.outcome)" } ?? "failed"
    }
    print(
        "resolution: \(directoryEntries.count) entries (5,000 OUs, 2,000 GPOs); index \(format3(milliseconds(indexing))) ms, "
            + "resolve \(format3(milliseconds(resolving))) ms, total \(format3(milliseconds(indexing + resolving))) ms"
    )
    print("  \(outcome.prefix(160))")
}

struct DirectoryEntryModel {
    var dn: String
    var classes: [String]
    var extra: [String: [String]] = [:]

    var entry: DirectoryObject {
        var attributes = extra
        attributes["objectClass"] = classes
        return DirectoryObject(dn: dn, attributes: attributes)
    }
}

func format3(_ value: Double) -> String {
    let scaled = (value * 1000).rounded() / 1000
    return String(scaled)
}

mergeBenchmark()
resolutionBenchmark()
