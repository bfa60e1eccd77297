import PolicyFormats

/// Text layout helpers for netsh's output: `Label                   : value` lines and fixed-width tables.
struct NetshText {
    private(set) var lines: [String] = []

    /// The width of the label column in netsh's list output (`Policy Name             : `).
    static let labelWidth = 24

    mutating func field(_ label: String, _ value: String) {
        lines.append(Self.pad(label, Self.labelWidth) + ": " + value)
    }

    mutating func line(_ text: String = "") {
        lines.append(text)
    }

    mutating func heading(_ text: String) {
        lines.append(text)
        lines.append(String(repeating: "-", count: text.count))
    }

    mutating func append(_ other: NetshText) {
        lines += other.lines
    }

    /// A table: column titles, a rule, the rows. With `wide` false, cells are cut to the column
    /// widths so a row fits 80 columns; with `wide` true, columns grow to their longest cell.
    mutating func table(_ columns: [(title: String, width: Int)], _ rows: [[String]], wide: Bool) {
        let widths = columns.indices.map { index in
            wide ? max(columns[index].width, rows.map { $0[index].count }.max() ?? 0) : columns[index].width
        }
        func render(_ cells: [String]) -> String {
            var out = ""
            for index in cells.indices {
                let cell = wide ? cells[index] : Self.cut(cells[index], widths[index])
                out += index == cells.count - 1 ? cell : Self.pad(cell, widths[index]) + " "
            }
            return out
        }
        lines.append(render(columns.map(\.title)))
        lines.append(String(repeating: "-", count: widths.reduce(0, +) + widths.count - 1))
        for row in rows { lines.append(render(row)) }
    }

    var text: String { lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n" }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// Cuts `text` to `width` characters, marking the cut with `...`.
    static func cut(_ text: String, _ width: Int) -> String {
        guard text.count > width, width > 3 else { return text }
        return String(text.prefix(width - 3)) + "..."
    }

    static func yesNo(_ value: Bool) -> String { value ? "YES" : "NO" }

    /// `11/29/2026 3:04:05 PM` (UTC): the layout of Windows' `Last Modified` in the en-US locale.
    static func date(_ seconds: Int64?) -> String {
        guard let seconds else { return "<unknown>" }
        let time = CivilTime(seconds: seconds)
        let hour12 = time.hour % 12 == 0 ? 12 : time.hour % 12
        func two(_ value: Int64) -> String { CivilTime.pad(value, 2) }
        return "\(time.month)/\(time.day)/\(time.year) \(hour12):\(two(time.minute)):\(two(time.second)) "
            + (time.hour < 12 ? "AM" : "PM")
    }
}
