public import DecisionCore

/// IPv4 packets as raw bytes, the way NFQUEUE hands them to the driver: for tests that go through the
/// driver's entry point (``DecisionCore/DecisionContext/decide(packet:hook:mark:inInterface:outInterface:)``).
public enum PacketBytes {
    /// An IPv4 header for `key` (with `optionWords` 32-bit words of options), then, for TCP and UDP
    /// whole packets and first fragments, the two ports and padding up to `payload` bytes of transport
    /// data. `fragmentOffset` (in 8-byte units) ≠ 0 makes a non-first fragment: no ports.
    public static func ipv4(
        _ key: PacketKey,
        optionWords: Int = 0,
        fragmentOffset: UInt16 = 0,
        moreFragments: Bool = false,
        payload: Int = 8
    ) -> [UInt8] {
        let headerLength = 20 + optionWords * 4
        let transport = max(payload, 4)
        let total = headerLength + transport
        let flags: UInt16 = (moreFragments ? 0x2000 : 0) | (fragmentOffset & 0x1FFF)
        var bytes: [UInt8] = [
            0x40 | UInt8(headerLength / 4), 0, UInt8(total >> 8), UInt8(total & 0xFF), 0x12, 0x34,
            UInt8(flags >> 8), UInt8(flags & 0xFF), 64, key.ipProtocol, 0, 0,
        ]
        for word in [key.source, key.destination] {
            bytes += [UInt8(word >> 24), UInt8(word >> 16 & 0xFF), UInt8(word >> 8 & 0xFF), UInt8(word & 0xFF)]
        }
        bytes += [UInt8](repeating: 1, count: optionWords * 4)  // NOP options
        var data = [UInt8](repeating: 0, count: transport)
        data[0] = UInt8(key.sourcePort >> 8)
        data[1] = UInt8(key.sourcePort & 0xFF)
        data[2] = UInt8(key.destinationPort >> 8)
        data[3] = UInt8(key.destinationPort & 0xFF)
        return bytes + data
    }
}
