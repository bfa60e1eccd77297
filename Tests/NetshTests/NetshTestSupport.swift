import DecisionCore
import Foundation
import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

/// A netsh shell on in-memory stores with deterministic GUIDs and time.
struct NetshHarness {
    let stores = InMemoryNetshStoreBackend()
    let dynamic: InMemoryNetshDynamicBackend
    let shell: NetshShell

    init(
        dynamic: InMemoryNetshDynamicBackend = InMemoryNetshDynamicBackend(
            spd: NetshSPD(host: HostInfo(addresses: [IPv4Address(198, 18, 0, 10)]))
        ),
        resolver: any NetshNameResolver = TableNameResolver([
            "fileserver.example.test": [IPv4Address(198, 18, 5, 20)],
            "web.example.test": [IPv4Address(198, 18, 5, 30), IPv4Address(198, 18, 5, 31)],
            "gw.example.test": [IPv4Address(198, 19, 0, 1)],
        ])
    ) {
        self.dynamic = dynamic
        let environment = NetshEnvironment.deterministic(resolver: resolver)
        dynamic.environment = environment
        shell = NetshShell(
            staticSession: NetshStaticSession(backend: stores, environment: environment),
            dynamicBackend: dynamic
        )
    }

    /// Runs lines one at a time from the netsh context (`ipsec static add ...`).
    @discardableResult
    func run(_ lines: String...) throws -> String {
        var output = ""
        for line in lines { output += try shell.execute(line) }
        return output
    }

    /// Runs `ipsec static <line>`.
    @discardableResult
    func s(_ line: String) throws -> String { try shell.execute("ipsec static " + line) }

    /// Runs `ipsec dynamic <line>`.
    @discardableResult
    func d(_ line: String) throws -> String { try shell.execute("ipsec dynamic " + line) }

    var local: PolicyStore { stores.stores[.local] ?? PolicyStore() }

    /// The error a line gives.
    func error(_ line: String) -> NetshError? {
        do {
            _ = try shell.execute(line)
            return nil
        } catch {
            return error
        }
    }
}

/// Stores compared regardless of GUIDs, times and the order of filter lists and actions: GUIDs are
/// renumbered in a fixed walk of the object graph.
enum CanonicalStore {
    static func canonical(_ store: PolicyStore) -> PolicyStore {
        var map: [IPsecGUID: IPsecGUID] = [:]
        func id(_ guid: IPsecGUID) -> IPsecGUID {
            if let known = map[guid] { return known }
            var bytes = [UInt8](repeating: 0, count: 16)
            let number = map.count + 1
            bytes[14] = UInt8(number >> 8)
            bytes[15] = UInt8(number & 0xFF)
            let new = IPsecGUID(bytes: bytes)!
            map[guid] = new
            return new
        }
        for policy in store.policies {
            _ = id(policy.id)
            _ = id(policy.mainMode.id)
            for rule in policy.rules {
                _ = id(rule.id)
                rule.filterListIDs.forEach { _ = id($0) }
                rule.filterActionID.map { _ = id($0) }
            }
        }
        for list in store.filterLists.sorted(by: { $0.name < $1.name }) { _ = id(list.id) }
        for action in store.filterActions.sorted(by: { $0.name < $1.name }) { _ = id(action.id) }
        var result = store
        result.assignedPolicyID = store.assignedPolicyID.map(id)
        result.policies = store.policies.map { policy in
            var policy = policy
            policy.id = id(policy.id)
            policy.whenChanged = nil
            policy.mainMode.id = id(policy.mainMode.id)
            policy.mainMode.whenChanged = nil
            policy.rules = policy.rules.map { rule in
                var rule = rule
                rule.id = id(rule.id)
                rule.whenChanged = nil
                rule.filterListIDs = rule.filterListIDs.map(id)
                rule.filterActionID = rule.filterActionID.map(id)
                return rule
            }
            return policy
        }
        result.filterLists = store.filterLists.map { list in
            var list = list
            list.id = id(list.id)
            list.whenChanged = nil
            list.filters = list.filters.enumerated().map { index, filter in
                var filter = filter
                var bytes = [UInt8](repeating: 0xF0, count: 16)
                bytes[15] = UInt8(index & 0xFF)
                filter.id = IPsecGUID(bytes: bytes)!
                return filter
            }
            return list
        }
        .sorted { $0.id < $1.id }
        result.filterActions = store.filterActions.map { action in
            var action = action
            action.id = id(action.id)
            action.whenChanged = nil
            return action
        }
        .sorted { $0.id < $1.id }
        return result
    }

    static func json(_ store: PolicyStore) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(canonical(store)), as: UTF8.self) + "\n"
    }
}

/// The fixture directory beside this file.
enum NetshFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/netsh")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// `IPSECSVC_RECORD_FIXTURES=1` rewrites expected files instead of comparing (review the diff!).
    static var recording: Bool { ProcessInfo.processInfo.environment["IPSECSVC_RECORD_FIXTURES"] == "1" }

    static func write(_ text: String, _ name: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
}
