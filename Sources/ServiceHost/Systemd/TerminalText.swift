extension StringProtocol {
    /// The text with every character a terminal could act on written out as `\uXXXX`: the C0 controls
    /// (ESC starts escape sequences; CR and backspace overwrite what was shown), DEL, and the C1
    /// controls U+0080–U+009F (some terminals take U+009B as CSI). Newline and tab stay when
    /// `keepingLineBreaks` (whole outputs); a single-line field escapes them too, so that a name cannot
    /// forge the lines after it.
    ///
    /// For text that comes from outside the program — plugin names and messages, store contents,
    /// configuration values — wherever it is shown: `status`, netsh output, journal events. The
    /// `\uXXXX` form keeps JSON output valid.
    public func terminalEscaped(keepingLineBreaks: Bool = false) -> String {
        guard unicodeScalars.contains(where: { Self.isControl($0, keepingLineBreaks) }) else { return String(self) }
        var result = ""
        result.unicodeScalars.reserveCapacity(unicodeScalars.count + 16)
        for scalar in unicodeScalars {
            if Self.isControl(scalar, keepingLineBreaks) {
                let hex = String(scalar.value, radix: 16, uppercase: false)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar, _ keepingLineBreaks: Bool) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: !keepingLineBreaks
        case 0x00...0x1F, 0x7F...0x9F: true
        default: false
        }
    }
}
