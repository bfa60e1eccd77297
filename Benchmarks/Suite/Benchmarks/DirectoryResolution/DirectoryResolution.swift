// Group-policy resolution (GroupPolicyResolver) in a directory of 5,000 OUs (50 chains of 100 nested
// OUs, two GPO links each) and 2,000 GPOs, a tenth of them with an IPsec assignment: indexing the
// entries (DirectoryTree) and resolving the computer at the bottom of the first chain. Previous
// target: ≤ 100 ms.
import Benchmark
import PolicyModel
import Providers
import SuiteSupport

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = SuiteConfiguration.make(seconds: 3, iterations: 200)
    Benchmark("index+resolve-5000-OUs-2000-GPOs") { benchmark, fixture in
        for _ in benchmark.scaledIterations {
            let tree = DirectoryTree(entries: fixture.entries)
            blackHole(try? GroupPolicyResolver.resolve(in: tree, computerDN: fixture.computer, site: nil))
        }
    } setup: {
        directory()
    }
}

func directory() -> (entries: [DirectoryObject], computer: String) {
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
    return (entries.map(\.entry), computer)
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

func guid(_ n: Int, _ space: UInt8) -> IPsecGUID {
    var bytes = [UInt8](repeating: 0, count: 16)
    bytes[0] = space
    for shift in 0..<4 { bytes[15 - shift] = UInt8(truncatingIfNeeded: n >> (8 * shift)) }
    return IPsecGUID(bytes: bytes)!
}
