import IPsecSystem
public import Netsh
public import PolicyModel

/// DNS names of netsh filters and tunnel endpoints, resolved with the system resolver. Blocking: the
/// CLI calls it on its own thread, the service from its netsh transactions off the cooperative pool.
public struct SystemNameResolver: NetshNameResolver {
    public init() {}

    public func resolve(_ name: String) -> [IPv4Address] {
        NameResolution.ipv4Addresses(of: name).map { IPv4Address(value: $0) }
    }
}
