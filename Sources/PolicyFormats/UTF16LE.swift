/// Little-endian UTF-16, the byte order of every Windows string this package reads or writes
/// (regedit 5.00 and `ldifde -u` files, registry string values, policy blobs).
enum UTF16LE {
    /// The bytes taken in pairs as code units; a trailing odd byte is ignored.
    static func units(_ bytes: some Collection<UInt8>) -> [UInt16] {
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var index = bytes.startIndex
        while let next = bytes.index(index, offsetBy: 1, limitedBy: bytes.endIndex), next != bytes.endIndex {
            units.append(UInt16(bytes[index]) | UInt16(bytes[next]) << 8)
            index = bytes.index(after: next)
        }
        return units
    }

    /// The code units as bytes, low byte first.
    static func bytes(_ units: some Sequence<UInt16>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(units.underestimatedCount * 2)
        for unit in units { bytes += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        return bytes
    }
}
