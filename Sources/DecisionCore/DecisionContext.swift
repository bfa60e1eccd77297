public import PolicyModel

/// Everything one packet decision needs, swapped as a whole so that a packet always sees one
/// consistent table, mode, setting set and view of the host.
///
/// The one decision of the project: the driver's queue readers decide every packet with
/// ``decide(packet:hook:mark:inInterface:outInterface:)`` and `explain` with
/// ``trace(_:direction:mark:interface:established:)``; both end in
/// ``decide(_:direction:mark:interface:established:)``. The driver wraps the context with what only
/// the kernel path needs (fast-path epoch, marks, counters).
public final class DecisionContext: Sendable {
    public let table: FilterTable
    public let settings: DecisionSettings
    public let securityAssociations: any SecurityAssociations
    /// Whether permitted flows may be marked for the fast path (the driver turns it off with
    /// epoch 0; `explain` has no fast path).
    public let fastPath: Bool
    /// The directed broadcast addresses of the host (the broadcast exemption).
    public let broadcastAddresses: Set<UInt32>
    /// The connection type of each interface index (what NFQUEUE reports for a packet).
    public let interfaces: InterfaceIndexMap

    public init(
        table: FilterTable,
        settings: DecisionSettings = DecisionSettings(),
        host: HostInfo = HostInfo(),
        securityAssociations: any SecurityAssociations = AssumedSecurityAssociations(protected: false),
        fastPath: Bool = false
    ) {
        self.table = table
        self.settings = settings
        self.securityAssociations = securityAssociations
        self.fastPath = fastPath
        self.broadcastAddresses = Set(host.broadcastAddresses.map(\.value))
        self.interfaces = InterfaceIndexMap(host.interfaces)
    }

    /// Decides one parsed packet travelling in `direction` on an interface of `interface`: loopback,
    /// then the mode (startup modes by ``StartupModeRules``, operational block and permit), then the
    /// default exemptions, then the first filter by weight among the rules of the interface's
    /// connection type.
    ///
    /// - Parameters:
    ///   - mark: the packet mark (the driver's ``SecurityAssociations`` reads the kernel's IPsec
    ///     answer from it).
    ///   - established: the packet belongs to a connection this computer opened (only the stateful
    ///     startup mode asks; the kernel's conntrack rule decides that case in the driver).
    public func decide(
        _ key: PacketKey,
        direction: TrafficDirection,
        mark: UInt32,
        interface: InterfaceKind = .lan,
        established: Bool = false
    ) -> Decision {
        if interface == .loopback { return Decision(reason: .loopback) }
        switch settings.mode {
        case .operational(.block): return Decision(reason: .modeBlock)
        case .operational(.permit): return Decision(reason: .modePermit)
        case .startup(let mode):
            let reason = StartupModeRules.decide(
                key,
                direction: direction,
                mode: mode,
                exemptions: settings.bootExemptions,
                established: established
            )
            return Decision(reason: reason)
        case .operational(.secure), nil: break
        }
        if let exempt = DefaultExemptions.exemption(
            key,
            direction: direction,
            level: settings.exemptionLevel,
            broadcastAddresses: broadcastAddresses
        ) {
            return Decision(reason: exempt)
        }
        guard let index = table.lookup(key, direction, on: interface) else {
            return Decision(reason: .noMatch, fastPath: replyAlsoPermitted(key, direction, interface))
        }
        let action = table.action(index, direction)
        switch action.kind {
        case .permit:
            return Decision(reason: .permitted, filter: index, fastPath: replyAlsoPermitted(key, direction, interface))
        case .block:
            return Decision(reason: .blocked, filter: index)
        case .negotiate:
            if securityAssociations.isProtected(key, direction: direction, mark: mark) {
                return Decision(reason: .protected, filter: index)
            }
            if action.allowFallbackToClear && securityAssociations.hasSoftAssociation(key, direction: direction) {
                return Decision(reason: .clearFallback, filter: index)
            }
            if direction == .inbound && action.inboundPassThrough {
                return Decision(reason: .clearInboundPassThrough, filter: index)
            }
            if direction == .outbound && securityAssociations.isNegotiating(key, direction: direction) {
                return Decision(reason: .negotiating, filter: index)
            }
            return Decision(reason: .negotiationRequired, filter: index)
        }
    }

    /// ``decide(_:direction:mark:interface:established:)`` with every filter that selects the packet:
    /// the ones of the interface's connection type in the order the classifier consults them (the
    /// deciding one among them), and the ones skipped because their rule has another connection
    /// type. For `explain`; a linear scan, not for the packet path.
    public func trace(
        _ key: PacketKey,
        direction: TrafficDirection,
        mark: UInt32,
        interface: InterfaceKind = .lan,
        established: Bool = false
    ) -> DecisionTrace {
        let decision = decide(key, direction: direction, mark: mark, interface: interface, established: established)
        let all = table.candidates(key, direction)
        return DecisionTrace(
            decision: decision,
            candidates: all.filter { table.filters[$0].applies(to: interface) },
            skipped: all.filter { !table.filters[$0].applies(to: interface) }
        )
    }

    /// The fast path marks a whole connection, both directions: allowed only when the replies are
    /// permitted by the same table too (no block or negotiate filter, no exemption involved).
    @inline(__always)
    func replyAlsoPermitted(_ key: PacketKey, _ direction: TrafficDirection, _ interface: InterfaceKind) -> Bool {
        guard fastPath else { return false }
        let reply = key.reversed
        let replyDirection: TrafficDirection = direction == .inbound ? .outbound : .inbound
        guard let index = table.lookup(reply, replyDirection, on: interface) else { return true }
        return table.action(index, replyDirection).kind == .permit
    }
}

/// A decision with the filters behind it (``DecisionContext/trace(_:direction:mark:interface:established:)``).
public struct DecisionTrace: Hashable, Sendable {
    public var decision: Decision
    /// Filters (indices into ``FilterTable/filters``) of the packet's connection type that select it,
    /// in the order the classifier consults them.
    public var candidates: [Int]
    /// Filters that select the packet but whose rule has another connection type, in the same order.
    public var skipped: [Int]
}

/// Interface index → connection type, built from the host information for the packet path: a
/// dense array for the small indices every host has, a dictionary beyond.
public struct InterfaceIndexMap: Hashable, Sendable {
    static let denseLimit = 4096
    private var dense: [InterfaceKind] = []
    private var sparse: [UInt32: InterfaceKind] = [:]

    public init(_ interfaces: [HostInterface]) {
        let largest = interfaces.lazy.map(\.index).filter { $0 < Self.denseLimit }.max() ?? 0
        dense = [InterfaceKind](repeating: .lan, count: interfaces.isEmpty ? 0 : Int(largest) + 1)
        for interface in interfaces {
            if interface.index < Self.denseLimit {
                dense[Int(interface.index)] = interface.kind
            } else {
                sparse[interface.index] = interface.kind
            }
        }
    }

    /// The kind of interface `index`. An index the host information does not know yet (an interface
    /// that appeared since the last host check) counts as LAN, the type of every other interface.
    @inline(__always)
    public func kind(_ index: UInt32) -> InterfaceKind {
        if index < dense.count { return dense[Int(index)] }
        return sparse.isEmpty ? .lan : sparse[index] ?? .lan
    }
}
