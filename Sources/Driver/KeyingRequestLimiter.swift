import DecisionCore
import PolicyModel

/// Keeps a queue reader from asking keying the same thing for every packet of a burst: one
/// negotiation request per peer and filter every `interval`, one soft-association use per peer
/// every `interval`. Owned by one reader thread.
struct KeyingRequestLimiter {
    private var last: [UInt64: ContinuousClock.Instant] = [:]
    private let interval: Duration

    init(interval: Duration = .milliseconds(500)) {
        self.interval = interval
    }

    /// Whether the request named by `peer` and `detail` may go out now (and records it).
    mutating func allow(peer: UInt32, detail: Int) -> Bool {
        let key = UInt64(peer) << 32 | UInt64(UInt32(truncatingIfNeeded: detail))
        let now = ContinuousClock.now
        if let previous = last[key], previous.duration(to: now) < interval { return false }
        // Bounded: a scan of many peers must not grow the table without end.
        if last.count >= 4096 { last.removeAll(keepingCapacity: true) }
        last[key] = now
        return true
    }

    /// The request for `decision`, if keying should hear of it: a clear outbound packet that needs a
    /// negotiation, or clear traffic a soft association let through.
    mutating func request(
        for decision: Decision,
        key: PacketKey,
        direction: TrafficDirection,
        table: FilterTable
    ) -> KeyingRequest? {
        guard let filter = decision.filter else { return nil }
        switch decision.reason {
        case .negotiationRequired where direction == .outbound:
            let index = table.filters[filter].policyIndex
            guard allow(peer: key.destination, detail: index) else { return nil }
            return .negotiate(
                NegotiationRequest(
                    local: IPv4Address(value: key.source),
                    peer: IPv4Address(value: key.destination),
                    filterIndex: index,
                    generation: table.generation
                )
            )
        case .clearFallback:
            let peer = direction == .inbound ? key.source : key.destination
            guard allow(peer: peer, detail: -1) else { return nil }
            return .softAssociationUsed(IPv4Address(value: peer))
        default:
            return nil
        }
    }
}
