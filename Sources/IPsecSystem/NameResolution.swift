#if canImport(Glibc)
import Glibc
#endif

/// Host names to IPv4 addresses through the system resolver (`getaddrinfo`: hosts file, DNS, ...).
///
/// Blocking, possibly for seconds (network): callers stay off the cooperative pool.
public enum NameResolution {
    /// The IPv4 addresses of `name` in the resolver's order, each once, as host-order integers; empty
    /// when the name does not resolve. The corresponding C function is `getaddrinfo`.
    public static func ipv4Addresses(of name: String) -> [UInt32] {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(result) }
        var addresses: [UInt32] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr, address.pointee.sa_family == sa_family_t(AF_INET) {
                let value = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
                }
                if !addresses.contains(value) { addresses.append(value) }
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }
}
