/// The IPsec driver's startup (boot-time) modes: what applies from computer startup until the service
/// has applied policy (windows-ipsec.md §4.4). `netsh ipsec dynamic set config property=bootmode`
/// chooses one; the driver enforces it.
public enum StartupMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// No filtering (also what Disabled and Manual services get).
    case permit
    /// Outbound traffic and its replies pass (conntrack); other inbound is dropped.
    case stateful
    /// Everything is dropped except boot exemptions and DHCP.
    case block
}
