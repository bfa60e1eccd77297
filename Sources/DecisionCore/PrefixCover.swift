/// For one address field (source or destination) of a shape set: which prefix lengths have a filter
/// prefix that may cover a given address. Bit `n` of the answer (0…32) is set when some filter of the
/// set has a prefix of length `n` on this field that contains the address (bit 0: a filter with
/// `any`); for lengths 25…32 the answer is per /24: set when such a prefix lies anywhere in the
/// address's /24 (a superset, which the pair table's bloom bitmap then sorts out).
///
/// The classifier probes only the pairs of lengths that are both in the packet's answers: a shape
/// whose prefix length no filter prefix covers cannot match.
///
/// Layout: a multibit trie with 8-bit strides on the top three bytes (256-entry blocks, created only
/// under a byte that holds longer prefixes). A lookup is one to three dependent loads into a few
/// hundred KiB at most, which stay in cache: the table's cold memory is touched only by the probes.
struct PrefixCover {
    /// Blocks of 256 entries, the root first. An entry is an answer (bits 0…32) or a child block
    /// (``childFlag``, offset in the low bits).
    private let blocks: [UInt64]
    /// Runs of the /24 lists: the first low byte of the run << 40 | answer, sorted by first byte.
    private let runs: [UInt64]

    static let listFlag: UInt64 = 1 << 62
    static let childFlag: UInt64 = 1 << 63
    static let answerBits: UInt64 = (1 << 33) - 1

    /// The answer for `address`.
    @inline(__always)
    func lookup(_ address: UInt32) -> UInt64 {
        blocks.withUnsafeBufferPointer { blocks in
            var entry = blocks[Int(address >> 24)]
            var shift: UInt32 = 16
            while entry & Self.childFlag != 0 {
                entry = blocks[Int(truncatingIfNeeded: entry & Self.answerBits) &+ Int(address >> shift & 0xFF)]
                shift &-= 8
            }
            guard entry & Self.listFlag != 0 else { return entry }
            let low = UInt64(address & 0xFF)
            let start = Int(truncatingIfNeeded: entry >> 16 & 0xFF_FFFF_FFFF)
            let end = start &+ Int(truncatingIfNeeded: entry & 0xFFFF)
            return runs.withUnsafeBufferPointer { runs in
                var index = start &+ 1
                while index < end && runs[index] >> 40 <= low { index &+= 1 }
                return runs[index &- 1] & Self.answerBits
            }
        }
    }

    /// The index of `prefixes`: (address already masked, length 0…32), duplicates allowed.
    init(prefixes: [(value: UInt32, length: Int)]) {
        var blocks = [UInt64](repeating: 0, count: 256)
        var runs: [UInt64] = []
        Self.fill(&blocks, &runs, block: 0, level: 0, inherited: 0, prefixes: prefixes)
        self.blocks = blocks
        self.runs = runs
    }

    /// Fills the 256 entries at `block` (level 0: the top byte, 1: the second, 2: the third) from
    /// `prefixes` (all inside the block's range), each entry starting from `inherited` (the lengths
    /// of the prefixes that cover the whole block).
    private static func fill(
        _ blocks: inout [UInt64],
        _ runs: inout [UInt64],
        block: Int,
        level: Int,
        inherited: UInt64,
        prefixes: [(value: UInt32, length: Int)]
    ) {
        let entryBits = 8 * (level + 1)  // a prefix this long or shorter covers whole entries
        let shift = UInt32(32 - entryBits)
        for entry in 0..<256 { blocks[block + entry] = inherited }
        var deeper: [Int: [(value: UInt32, length: Int)]] = [:]
        for prefix in prefixes {
            let first = Int(prefix.value >> shift & 0xFF)
            if prefix.length <= entryBits {
                // Covers 2^(entryBits - length) entries, all of them when shorter than the block.
                let span = prefix.length <= entryBits - 8 ? 256 : 1 << (entryBits - prefix.length)
                let start = span == 256 ? 0 : first
                for entry in start..<(start + span) { blocks[block + entry] |= 1 << UInt64(prefix.length) }
            } else {
                deeper[first, default: []].append(prefix)
            }
        }
        for (entry, members) in deeper {
            let covering = blocks[block + entry]
            if level == 2 {
                var answers = [UInt64](repeating: covering, count: 256)
                for prefix in members {
                    let start = Int(prefix.value & 0xFF)
                    for low in start..<(start + 1 << (32 - prefix.length)) {
                        answers[low] |= 1 << UInt64(prefix.length)
                    }
                }
                let first = runs.count
                runs.append(answers[0])
                for low in 1..<256 where answers[low] != answers[low - 1] {
                    runs.append(UInt64(low) << 40 | answers[low])
                }
                blocks[block + entry] = listFlag | UInt64(first) << 16 | UInt64(runs.count - first)
                continue
            }
            let child = blocks.count
            blocks += repeatElement(0, count: 256)
            blocks[block + entry] = childFlag | UInt64(child)
            fill(&blocks, &runs, block: child, level: level + 1, inherited: covering, prefixes: members)
        }
    }
}
