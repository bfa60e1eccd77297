public import PolicyModel

/// The text formats the host information is read from, parsed without I/O (the driver's
/// `LinuxHostInfoSource` reads the files and hands their text here).
public enum HostConfigurationText {
    /// `nameserver` lines of `/etc/resolv.conf` with an IPv4 address.
    public static func nameservers(_ resolvConf: String) -> [IPv4Address] {
        resolvConf.split(whereSeparator: \.isNewline).compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { return nil }
            return IPv4Address(words[1])
        }
    }

    /// Gateways of the default routes (destination and mask 0) in `/proc/net/route`, in order, without
    /// repeats.
    public static func defaultGateways(_ routeTable: String) -> [IPv4Address] {
        var result: [IPv4Address] = []
        for line in routeTable.split(whereSeparator: \.isNewline).dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, fields[1] == "00000000", fields[7] == "00000000",
                let gateway = UInt32(fields[2], radix: 16), gateway != 0
            else { continue }
            // The kernel prints the network-order word as a host-order number.
            let fixed = IPv4Address(value: UInt32(bigEndian: gateway))
            if !result.contains(fixed) { result.append(fixed) }
        }
        return result
    }

    /// DHCP servers of one lease file: `SERVER_ADDRESS=` (systemd-networkd) and
    /// `option dhcp-server-identifier` (dhclient).
    public static func dhcpServers(_ lease: String) -> [IPv4Address] {
        var result: [IPv4Address] = []
        let dhclient = "option dhcp-server-identifier "
        for raw in lease.split(whereSeparator: \.isNewline) {
            let line = raw.drop(while: { $0 == " " || $0 == "\t" })
            if line.hasPrefix("SERVER_ADDRESS=") {
                if let address = IPv4Address(line.dropFirst("SERVER_ADDRESS=".count).trimmingTrailingSpace) {
                    result.append(address)
                }
            } else if line.hasPrefix(dhclient) {
                var value = line.dropFirst(dhclient.count).trimmingTrailingSpace
                while value.last == ";" { value = value.dropLast().trimmingTrailingSpace }
                if let address = IPv4Address(value) { result.append(address) }
            }
        }
        return result
    }

    /// The `DEVTYPE=` value of a `/sys/class/net/NAME/uevent` file (`wwan`, `ppp`, `bridge`, ...).
    public static func deviceType(_ uevent: String) -> String? {
        for line in uevent.split(whereSeparator: \.isNewline) where line.hasPrefix("DEVTYPE=") {
            return String(line.dropFirst("DEVTYPE=".count).trimmingTrailingSpace)
        }
        return nil
    }
}

extension Substring {
    fileprivate var trimmingTrailingSpace: Substring {
        var text = self
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return text
    }
}
