/// Standard base64 (RFC 4648 §4, with padding), as LDIF `::` values and DSML `xsd:base64Binary` use.
///
/// Written here rather than taken from Foundation so that a bad character is reported with its
/// position, and so that PolicyFormats does not need Foundation for this.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    /// Why a base64 text could not be decoded, and the 0-based character position.
    struct DecodingFailure: Error {
        var position: Int
        var message: String
    }

    /// Encodes without line breaks.
    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [
                alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)],
            ]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes, ignoring ASCII white space (DSML values are often wrapped); strict about everything else.
    static func decode(_ text: some StringProtocol) throws(DecodingFailure) -> [UInt8] {
        var out: [UInt8] = []
        var quad: UInt32 = 0
        var count = 0
        var padding = 0
        for (position, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                continue
            case UInt8(ascii: "="):
                guard count >= 2 else {
                    throw DecodingFailure(position: position, message: "misplaced '=' padding")
                }
                padding += 1
                quad <<= 6
                count += 1
            default:
                let value = reverse[Int(byte)]
                guard value >= 0 else {
                    throw DecodingFailure(position: position, message: "character '\(printable(byte))' is not base64")
                }
                guard padding == 0 else {
                    throw DecodingFailure(position: position, message: "data after '=' padding")
                }
                quad = quad << 6 | UInt32(value)
                count += 1
            }
            if count == 4 {
                out.append(UInt8(quad >> 16 & 0xFF))
                if padding < 2 { out.append(UInt8(quad >> 8 & 0xFF)) }
                if padding < 1 { out.append(UInt8(quad & 0xFF)) }
                if padding > 0 {
                    count = -1
                }  // Nothing may follow a padded group.
                else {
                    count = 0
                }
                quad = 0
            } else if count == 0 {
                throw DecodingFailure(position: position, message: "data after '=' padding")
            }
        }
        guard count == 0 || count == -1 else {
            throw DecodingFailure(position: text.utf8.count, message: "length is not a multiple of 4")
        }
        return out
    }

    private static func printable(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}
