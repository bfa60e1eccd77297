// inventory: an ipsecsvc policy-source plugin in Swift, built with IPsecPluginKit.
//
// Computes a policy from a small JSON inventory of servers: every server gets a mirrored filter between
// this computer and its address, grouped by the action the inventory gives it (permit or block). It is
// an additive source: its rules add to whatever else applies. The host re-reads it every 30 seconds.
//
// Options (plugins.d: option.NAME = VALUE):
//   inventory   the JSON file (required), for example:
//     { "policy": "Inventory",
//       "servers": [ { "name": "db1", "address": "198.18.0.10", "action": "block" },
//                    { "name": "web1", "address": "198.18.0.20", "action": "permit",
//                      "protocol": "tcp", "port": 443 } ] }
//
// Build (in this package): swift build --product InventoryPlugin → .build/debug/libInventoryPlugin.so
import FoundationEssentials
import IPsecPluginKit

/// The inventory file's shape.
struct Inventory: Decodable {
    struct Server: Decodable {
        var name: String
        var address: String
        var action: String
        var `protocol`: String?
        var port: UInt16?
    }

    var policy: String
    var servers: [Server]
}

/// A problem with the options or the inventory; the host shows its description as the failure reason.
struct InventoryError: Error, CustomStringConvertible {
    var description: String
}

final class InventoryPlugin: PolicySourcePlugin {
    static let name = "inventory"
    static let version = "1.0.0"
    static let kind = PolicySourceKind.additive
    static let defaultRank: Int32 = 500
    static let pollIntervalSeconds: UInt32 = 30

    private let path: String

    init(options: PluginOptions, changes: PluginChangeNotifier) throws {
        guard let path = options["inventory"], !path.isEmpty else {
            throw InventoryError(description: "option inventory (the JSON file) is required")
        }
        self.path = path
    }

    func fetch() throws -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(filePath: path))
        } catch {
            throw InventoryError(description: "\(path): cannot be read")
        }
        let inventory: Inventory
        do {
            inventory = try JSONDecoder().decode(Inventory.self, from: data)
        } catch {
            throw InventoryError(description: "\(path): not a valid inventory: \(error)")
        }
        return try Self.document(for: inventory)
    }

    /// The native XML document for an inventory.
    static func document(for inventory: Inventory) throws -> String {
        let actions = ["block", "permit"]
        for server in inventory.servers where !actions.contains(server.action) {
            throw InventoryError(description: "server \(server.name): action must be block or permit")
        }
        var lists = ""
        var filterActions = ""
        var rules = ""
        for action in actions {
            let servers = inventory.servers.filter { $0.action == action }
            guard !servers.isEmpty else { continue }
            lists += "  <filterList id=\"\(guid("list:" + action))\" name=\"\(escape(inventory.policy)): \(action)\">\n"
            for server in servers {
                var attributes = "id=\"\(guid("filter:" + server.name))\" description=\"\(escape(server.name))\""
                attributes += " mirrored=\"true\" protocol=\"\(escape(server.protocol ?? "any"))\""
                if let port = server.port { attributes += " destinationPort=\"\(port)\"" }
                lists += "    <filter \(attributes)>\n"
                lists += "      <source><me/></source>\n"
                lists += "      <destination><host address=\"\(escape(server.address))\"/></destination>\n"
                lists += "    </filter>\n"
            }
            lists += "  </filterList>\n"
            filterActions +=
                "  <filterAction id=\"\(guid("action:" + action))\" name=\"\(escape(inventory.policy)) \(action)\""
            filterActions += " action=\"\(action)\" inpass=\"false\" soft=\"false\" type=\"standard\"/>\n"
            rules += "    <rule id=\"\(guid("rule:" + action))\" name=\"\(escape(inventory.policy)): \(action)\""
            rules +=
                " filterAction=\"\(guid("action:" + action))\" interface=\"all\" active=\"true\" defaultResponse=\"false\">\n"
            rules += "      <filterListRef filterList=\"\(guid("list:" + action))\"/>\n"
            rules += "      <kerberos/>\n"
            rules += "    </rule>\n"
        }
        let policyID = guid("policy")
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <policyStore xmlns="urn:ipsecsvc:policy:1" version="1" assignedPolicy="\(policyID)">
            \(lists)\(filterActions)  <policy id="\(policyID)" name="\(escape(inventory.policy))" pollingIntervalSeconds="10800">
                <mainMode id="\(guid("mainmode"))" masterKeyPFS="false" quickModeLimit="0" lifetimeSeconds="28800" \
            certificateToAccountMapping="false" omitCertificateRequest="false">
                  <securityMethod encryption="3DES" integrity="SHA1" group="2" quickModeLimit="0" \
            lifetimeKilobytes="0" lifetimeSeconds="28800"/>
                </mainMode>
            \(rules)  </policy>
            </policyStore>

            """
    }

    /// A stable GUID for one of this plugin's objects (FNV-1a over the key), so that provenance and
    /// `explain` name the same objects from one fetch to the next.
    static func guid(_ key: String) -> String {
        func fnv(_ seed: UInt64) -> UInt64 {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
            for byte in ("inventory:" + key).utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            return hash
        }
        let high = fnv(1)
        let low = fnv(2)
        func hex(_ value: UInt64, _ digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        let versioned = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let variant = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return "{\(hex(versioned >> 32, 8))-\(hex(versioned >> 16 & 0xFFFF, 4))-\(hex(versioned & 0xFFFF, 4))-"
            + "\(hex(variant >> 48, 4))-\(hex(variant & 0xFFFF_FFFF_FFFF, 12))}"
    }

    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default: result.append(character)
            }
        }
        return result
    }
}

// The one line that makes this library an ipsecsvc plugin.
@c(ipsec_plugin_entry_v1) public func ipsecPluginEntry(_ hostABIVersion: UInt32) -> UnsafeRawPointer? {
    IPsecPluginExport.entry(InventoryPlugin.self, hostABIVersion: hostABIVersion)
}
