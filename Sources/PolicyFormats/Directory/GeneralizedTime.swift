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
        return daysFromCivil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
    }

    private static func isDigit(_ character: Character) -> Bool { ("0"..."9").contains(character) }

    /// Formats as `YYYYMMDDHHMMSS.0Z`.
    static func format(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let time = seconds - days * 86_400
        let (year, month, day) = civilFromDays(days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return yearText + two(month) + two(day) + two(time / 3_600) + two(time / 60 % 60) + two(time % 60) + ".0Z"
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    private static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
