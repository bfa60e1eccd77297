import PolicyModel

/// An attribute value as libxml2 hands it over, converted straight from its UTF-8 bytes.
///
/// The schema has already checked the lexical form; these conversions still refuse anything odd, so
/// a value the schema let through but the model cannot hold becomes an error, never a crash.
struct NativeXMLValue {
    let bytes: UnsafeBufferPointer<UInt8>

    var string: String { String(decoding: bytes, as: UTF8.self) }

    /// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` in either letter case.
    var guid: IPsecGUID? {
        guard bytes.count == 38, bytes[0] == UInt8(ascii: "{"), bytes[37] == UInt8(ascii: "}") else { return nil }
        // Straight into the two halves: no array per GUID (a 100,000-filter store has one per filter).
        var halves: (high: UInt64, low: UInt64) = (0, 0)
        var digits = 0
        var index = 1
        while index < 37 {
            if index == 9 || index == 14 || index == 19 || index == 24 {
                guard bytes[index] == UInt8(ascii: "-") else { return nil }
                index += 1
                continue
            }
            guard let value = IPsecGUID.hexDigitValue(bytes[index]) else { return nil }
            if digits < 16 {
                halves.high = halves.high << 4 | UInt64(value)
            } else {
                halves.low = halves.low << 4 | UInt64(value)
            }
            digits += 1
            index += 1
        }
        return IPsecGUID(high: halves.high, low: halves.low)
    }

    /// `xs:boolean`: true, false, 1, 0, with surrounding white space.
    var bool: Bool? {
        let trimmed = self.trimmed
        if Self.equals(trimmed, "true") || Self.equals(trimmed, "1") { return true }
        if Self.equals(trimmed, "false") || Self.equals(trimmed, "0") { return false }
        return nil
    }

    /// A non-negative decimal that fits `T`, with surrounding white space and an optional `+`.
    func unsigned<T: FixedWidthInteger & UnsignedInteger>(_: T.Type = T.self) -> T? {
        var digits = trimmed
        if digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        var value: T = 0
        for c in digits {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(T(c - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// Dotted-quad IPv4 text, exactly as the schema's pattern allows.
    var ipv4: IPv4Address? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for c in bytes {
            if c == UInt8(ascii: ".") {
                guard digits > 0 else { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            } else if c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                octet = octet * 10 + UInt32(c - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 3, octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return IPv4Address(value: value << 8 | octet)
    }

    private var trimmed: Slice<UnsafeBufferPointer<UInt8>> {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        var slice = bytes[...]
        while let first = slice.first, isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isSpace(last) { slice = slice.dropLast() }
        return slice
    }

    private static func equals(_ slice: Slice<UnsafeBufferPointer<UInt8>>, _ text: StaticString) -> Bool {
        guard slice.count == text.utf8CodeUnitCount else { return false }
        return text.withUTF8Buffer { slice.elementsEqual($0) }
    }
}
