import Foundation
import PolicyFormats
import PolicyModel
import Providers
import Synchronization

/// Builds directory trees in code: domain `DC=example,DC=test`, GPOs with IPsec assignments, OUs with
/// links, a site, and the computer.
struct TreeBuilder {
    static let domain = "DC=example,DC=test"
    static let computer = "CN=PC1,OU=Web,OU=Servers," + domain

    var entries: [String: DirectoryObject] = [:]
    var order: [String] = []

    init(computer: String = TreeBuilder.computer) {
        add(DirectoryObject(dn: Self.domain, attributes: ["objectClass": ["top", "domain", "domainDNS"]]))
        add(DirectoryObject(dn: "CN=IP Security,CN=System," + Self.domain, attributes: ["objectClass": ["container"]]))
        var parent = DN.parent(computer)
        while let dn = parent, DN.normalize(dn) != DN.normalize(Self.domain) {
            if DN.leafType(dn) == "ou" {
                add(DirectoryObject(dn: dn, attributes: ["objectClass": ["organizationalUnit"]]))
            }
            parent = DN.parent(dn)
        }
        add(DirectoryObject(dn: computer, attributes: ["objectClass": ["computer"]]))
    }

    static func gpoDN(_ n: Int) -> String {
        "CN={\(Fixtures.guid(n, space: 0xAA).plain.uppercased())},CN=Policies,CN=System," + domain
    }

    static func policyDN(_ name: String) -> String { "CN=ipsecPolicy{\(name)},CN=IP Security,CN=System," + domain }

    mutating func add(_ entry: DirectoryObject) {
        let key = DN.normalize(entry.dn)
        if entries[key] == nil { order.append(key) }
        entries[key] = entry
    }

    mutating func remove(_ dn: String) {
        let key = DN.normalize(dn)
        entries[key] = nil
        order.removeAll { $0 == key }
    }

    /// A GPO; with `policy`, it carries an IPsec assignment of that policy.
    mutating func gpo(_ n: Int, name: String, assigns policy: String? = nil, flags: Int = 0) {
        add(
            DirectoryObject(
                dn: Self.gpoDN(n),
                attributes: ["objectClass": ["groupPolicyContainer"], "displayName": [name], "flags": [String(flags)]]
            )
        )
        if let policy {
            if entries[DN.normalize(Self.policyDN(policy))] == nil {
                self.policy(
                    policy,
                    space: UInt8(truncatingIfNeeded: policy.unicodeScalars.reduce(16) { $0 &+ Int($1.value) })
                )
            }
            add(
                DirectoryObject(
                    dn: GroupPolicyResolver.assignmentDN(forGPO: Self.gpoDN(n)),
                    attributes: ["objectClass": ["ipsecPolicy"], "ipsecOwnersReference": [Self.policyDN(policy)]]
                )
            )
        }
    }

    /// Removes a GPO's IPsec assignment (explicit unassign).
    mutating func unassign(_ n: Int) { remove(GroupPolicyResolver.assignmentDN(forGPO: Self.gpoDN(n))) }

    /// An IPsec policy object; its content travels as JSON for ``FixtureDecoder``.
    mutating func policy(_ name: String, space: UInt8, whenChanged: String = "20261129120000.0Z") {
        let store = Fixtures.simple(name, space: space)
        let json = String(decoding: JSONStoreCodec().encode(store), as: UTF8.self)
        add(
            DirectoryObject(
                dn: Self.policyDN(name),
                attributes: [
                    "objectClass": ["ipsecPolicy"], "ipsecName": [name], "whenChanged": [whenChanged],
                    "x-fixture-store": [json],
                ]
            )
        )
    }

    /// Links GPOs to a container: `links` in link order (the first has link order 1).
    mutating func link(_ dn: String, _ links: [(gpo: Int, enforced: Bool, disabled: Bool)], blocks: Bool = false) {
        var entry = entries[DN.normalize(dn)] ?? DirectoryObject(dn: dn, attributes: ["objectClass": ["site"]])
        // gPLink stores the lowest precedence first: link order 1 is the last item.
        let gpLinks = links.enumerated().reversed().map { index, link in
            GroupPolicyLink(
                gpoDN: Self.gpoDN(link.gpo),
                gpoID: Fixtures.guid(link.gpo, space: 0xAA),
                options: (link.disabled ? 1 : 0) | (link.enforced ? 2 : 0),
                linkOrder: index + 1
            )
        }
        entry.attributes["gplink"] = [GroupPolicyLink.format(gpLinks)]
        if blocks { entry.attributes["gpoptions"] = ["1"] }
        add(entry)
    }

    mutating func link(_ dn: String, _ gpos: Int..., blocks: Bool = false) {
        link(dn, gpos.map { ($0, false, false) }, blocks: blocks)
    }

    mutating func site(_ name: String) -> String {
        let dn = "CN=\(name),CN=Sites,CN=Configuration," + Self.domain
        add(DirectoryObject(dn: dn, attributes: ["objectClass": ["site"], "cn": [name]]))
        return dn
    }

    var tree: DirectoryTree { DirectoryTree(entries: order.compactMap { entries[$0] }) }
}

/// Decodes fixture policies from their JSON attribute.
struct FixtureDecoder: DirectoryPolicyDecoder {
    func decodePolicy(at policyDN: String, in tree: DirectoryTree) throws(PolicyFormatError) -> PolicyStore {
        guard let json = tree.entry(policyDN)?.value("x-fixture-store") else {
            throw PolicyFormatError(file: policyDN, message: "no fixture store")
        }
        return try JSONStoreCodec().decode(Array(json.utf8), file: policyDN)
    }
}

/// A snapshot "file" in memory: tests swap the tree or remove it as the directory changes.
final class FixtureSnapshots: DirectorySnapshotReader, Sendable {
    private let trees = Mutex<[String: DirectoryTree]>([:])

    func set(_ tree: DirectoryTree?, at path: String) { trees.withLock { $0[path] = tree } }

    func read(path: String) throws(PolicyFormatError) -> DirectoryTree? { trees.withLock { $0[path] } }
}
