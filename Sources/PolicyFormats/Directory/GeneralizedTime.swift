/// LDAP GeneralizedTime (`20240131120000.0Z`) to and from seconds since 1970-01-01 UTC, the unit of
/// the model's `whenChanged` (the registry stores that number directly).
enum GeneralizedTime {
    /// Parses `YYYYMMDDHHMMSS[.fraction]Z` (the form Active Directory returns); the fraction is dropped.
    static func parse(_ text: String) -> Int64? {
        var digits = Substring(text)
        guard digits.hasSuffix("Z") || digits.hasSuffix("z") else { return nil }
        digits = digits.dropLast()
        if let dot = digits.firstIndex(where: { $0 == "." || $0 == "," }) {
            guard digits[digits.index(after: dot)...].allSatisfy(isDigit) else { return nil }
            digits = digits[..<dot]
        }
        guard digits.count == 14, digits.allSatisfy(isDigit) else { return nil }
        let year = Int64(digits.prefix(4))!
        let rest = Array(digits.dropFirst(4).utf8).map { Int64($0 - UInt8(ascii: "0")) }
        let pairs = stride(from: 0, to: 10, by: 2).map { rest[$0] * 10 + rest[$0 + 1] }
        let (month, day, hour, minute, second) = (pairs[0], pairs[1], pairs[2], pairs[3], pairs[4])
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        return CivilTime.seconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    private static func isDigit(_ character: Character) -> Bool { ("0"..."9").contains(character) }

    /// Formats as `YYYYMMDDHHMMSS.0Z`.
    static func format(_ seconds: Int64) -> String {
        let time = CivilTime(seconds: seconds)
        func two(_ value: Int64) -> String { CivilTime.pad(value, 2) }
        return CivilTime.pad(time.year, 4) + two(time.month) + two(time.day) + two(time.hour) + two(time.minute)
            + two(time.second) + ".0Z"
    }
}
