/// `whenChanged` as UTC text (`2026-11-29T12:00:00Z`) for the years 1–9999, seconds since 1970 otherwise.
///
/// The calendar arithmetic is ``CivilTime``'s.
enum NativeXMLTimestamp {
    static let firstSecond: Int64 = -62_135_596_800  // 0001-01-01T00:00:00Z
    static let lastSecond: Int64 = 253_402_300_799  // 9999-12-31T23:59:59Z

    static func text(_ seconds: Int64) -> String {
        guard (firstSecond...lastSecond).contains(seconds) else { return String(seconds) }
        let time = CivilTime(seconds: seconds)
        func two(_ value: Int64) -> String { CivilTime.pad(value, 2) }
        return CivilTime.pad(time.year, 4) + "-" + two(time.month) + "-" + two(time.day) + "T" + two(time.hour) + ":"
            + two(time.minute) + ":" + two(time.second) + "Z"
    }

    /// Parses either form; `nil` for text the schema would not accept or a day the month lacks.
    static func seconds(_ text: String) -> Int64? {
        let chars = Array(text.utf8)
        guard chars.count == 20, chars[10] == UInt8(ascii: "T") else {
            return Int64(text.trimmingXMLWhitespace())
        }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                let c = chars[index]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(c - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            year >= 1, (1...12).contains(month), day >= 1, day <= CivilTime.daysIn(month: month, year: year),
            hour < 24, minute < 60, second < 60
        else { return nil }
        return CivilTime.seconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }
}

extension String {
    /// Without leading and trailing XML white space (space, tab, CR, LF): how XML Schema collapses
    /// numbers and booleans.
    func trimmingXMLWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}
