public import PolicyModel

#if canImport(Glibc)
import Glibc
import IPsecSystem
#endif

/// This computer's addresses as the filters see them: `me` from the interfaces (`getifaddrs`), DNS servers
/// from `/etc/resolv.conf`, the default gateway from `/proc/net/route`. WINS and DHCP servers are not
/// known on Linux and match nothing.
public struct SystemAddressResolver: AddressResolver {
    public init() {}

    public func localAddresses() -> [IPv4Address] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var result: [IPv4Address] = []
        var cursor = list
        while let entry = cursor {
            if let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) {
                let value = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                result.append(IPv4Address(value: UInt32(bigEndian: value)))
            }
            cursor = entry.pointee.ifa_next
        }
        return result
    }

    public func servers(_ kind: SpecialServer) -> [IPv4Address] {
        switch kind {
        case .dns: Self.lines("/etc/resolv.conf").compactMap(Self.nameserver)
        case .gateway: Self.lines("/proc/net/route").compactMap(Self.defaultGateway)
        case .wins, .dhcp: []
        }
    }

    private static func lines(_ path: String) -> [Substring] {
        guard let bytes = try? FileSystem.readIfPresent(path, limit: 1 << 20) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n")
    }

    private static func nameserver(_ line: Substring) -> IPv4Address? {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
        return IPv4Address(fields[1])
    }

    /// `Iface Destination Gateway ...` in little-endian hex; the default route has destination 0.
    private static func defaultGateway(_ line: Substring) -> IPv4Address? {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 3, fields[1] == "00000000", let raw = UInt32(fields[2], radix: 16), raw != 0 else {
            return nil
        }
        return IPv4Address(value: UInt32(littleEndian: raw).byteSwapped)
    }
}
