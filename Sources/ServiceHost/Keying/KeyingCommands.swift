public import Driver
public import Keying
public import Netsh
public import PolicyModel

/// `keying.associations`: the live main-mode and quick-mode SAs and the soft associations
/// (`netsh ipsec dynamic show mmsas|qmsas`).
public enum KeyingAssociationsCommand: ControlCommand {
    public typealias Request = ControlEmpty
    public typealias Response = KeyingAssociations
    public static let name = "keying.associations"
}

/// `keying.peer`: what keying knows about one peer (`explain`).
public enum KeyingPeerCommand: ControlCommand {
    public struct Request: Codable, Sendable {
        public var peer: IPv4Address

        public init(peer: IPv4Address) { self.peer = peer }
    }

    public typealias Response = PeerKeyingState
    public static let name = "keying.peer"
}

extension ControlRegistry {
    /// The keying commands: they answer from the agent's keying, or say that IKE is off.
    mutating func registerKeying() {
        register(KeyingAssociationsCommand.self) { _, context in
            guard let keying = context.agent.keying else {
                throw ControlError(.failed, "IKE is off (ike = none): ipsecsvc negotiates no security associations")
            }
            do {
                return try await keying.associations()
            } catch {
                throw ControlError(.failed, "\(error)")
            }
        }
        register(KeyingPeerCommand.self) { request, context in
            guard let keying = context.agent.keying else { return PeerKeyingState(enabled: false) }
            return await keying.peerState(request.peer)
        }
    }
}

extension PolicyAgent {
    /// `show stats`: the driver's counters and, with keying, the IKE counters and the live SAs' totals.
    public func netshStatistics() async -> NetshStatistics {
        NetshStatistics(
            driverStatus: await driver.status(),
            keying: await keying?.status(),
            associations: try? await keying?.associations()
        )
    }

    /// `show mmsas|qmsas`: the live SAs from keying.
    public func netshSecurityAssociations() async -> NetshSecurityAssociations {
        guard let keying else { return .none }
        do {
            return .listed(try await keying.associations())
        } catch {
            return .unavailable("\(error)")
        }
    }
}

extension NetshStatistics {
    /// `show stats` with IKE: the counters of Windows Server 2003's IKE section filled from keying,
    /// and the IPsec section's association and byte counters from the live SAs.
    public init(driverStatus: DriverStatus, keying: KeyingStatus?, associations: KeyingAssociations?) {
        guard let keying else {
            self.init(driverStatus: driverStatus)
            return
        }
        func counter(_ name: String) -> UInt64 { keying.counters[name] ?? 0 }
        let failures = keying.counters.filter { $0.key.hasPrefix("failures.") }.values.reduce(0, &+)
        let ike: [String: UInt64] = [
            "Main Modes": counter("main-modes"),
            "Quick Modes": counter("quick-modes"),
            "Soft SAs": UInt64(keying.softAssociations.count),
            "Authentication Failures": counter("failures.authentication"),
            "Active Acquire": counter("negotiations.active"),
            "Acquire Failures": failures &- counter("failures.authentication") &- counter("failures.no-proposal"),
            "Negotiation Failures": failures,
            "Total Acquire": counter("negotiations.started"),
            "ConnListSize": UInt64(keying.connections),
            "IsadbListSize": UInt64(associations?.mainModes.count ?? 0),
        ]
        var ipsec = driverStatus.netshStatistics.map { NetshCounter($0.name, $0.value) }
        if let associations {
            let quickModes = associations.quickModes
            let replaced: [String: UInt64] = [
                "Active Associations": UInt64(quickModes.count * 2),
                "Active Tunnels": UInt64(quickModes.filter { $0.mode == "TUNNEL" }.count),
                "Confidential Bytes Sent": quickModes.filter { $0.encryption != "" }.map(\.bytesOut).reduce(0, &+),
                "Confidential Bytes Received": quickModes.filter { $0.encryption != "" }.map(\.bytesIn).reduce(0, &+),
                "Authenticated Bytes Sent": quickModes.filter { $0.integrity != "" }.map(\.bytesOut).reduce(0, &+),
                "Authenticated Bytes Received": quickModes.filter { $0.integrity != "" }.map(\.bytesIn).reduce(0, &+),
            ]
            ipsec = ipsec.map { counter in replaced[counter.name].map { NetshCounter(counter.name, $0) } ?? counter }
        }
        self.init(
            ike: Self.ikeCounterNames.map { NetshCounter($0, ike[$0] ?? 0) },
            ipsec: ipsec,
            ikeNote: keying.connected
                ? nil
                : "The IKE daemon (charon) is not available: \(keying.lastError ?? "not connected")."
        )
    }
}

/// What `explain` says about IKE for a negotiate verdict.
enum KeyingExplanation {
    static func sentence(_ keying: (any Keying)?, peer: IPv4Address) async -> String {
        guard let keying else {
            return "IKE is off (ike = none): only traffic that kernel IPsec already protects passes."
        }
        let state = await keying.peerState(peer)
        if let note = state.note { return "IKE: \(note)." }
        if state.hasSecurityAssociation {
            return "IKE: security associations with \(peer) exist: its traffic is protected."
        }
        if state.softAssociation {
            return "IKE: \(peer) did not answer IKE; a soft association lets its traffic pass in the clear."
        }
        if state.negotiating { return "IKE: negotiating with \(peer) now." }
        if let failure = state.lastFailure {
            return
                "IKE: no security association with \(peer); the last negotiation failed: \(failure.reason.rawValue) (\(failure.detail))."
        }
        return "IKE: no security association with \(peer) yet; the first outbound packet starts a negotiation."
    }
}
