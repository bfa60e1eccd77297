/// For one address field (source or destination) of a shape set: which prefix lengths have a filter
/// prefix that covers a given address. Bit `n` of the answer (0…32) is set when some filter of the
/// set has a prefix of length `n` on this field that contains the address (bit 0: a filter with
/// `any`).
///
/// The classifier probes only the pairs of lengths that are both in the packet's answers: a shape
/// whose prefix length no filter prefix covers cannot match.
///
/// Layout: a multibit trie with 8-bit strides on the top three bytes (256-entry blocks, created only
/// under a byte that holds longer prefixes) and, under a /24 that holds longer prefixes, a short
/// list of (first low byte, answer) runs. A lookup is one to four dependent loads.
///
/// A run is 16 bits: its first low byte and the answer's bits 25…32; the bits 0…24 are the same for
/// every run of a /24 (the prefixes that cover all of it) and live in the /24's entry. At 100,000
/// filters a field has about 10^5 runs: 2 bytes each keeps them in the L2 where 8 bytes did not.
struct PrefixCover {
    /// Blocks of 256 entries, the root first. An entry is an answer (bits 0…32), a child block
    /// (``childFlag``, offset in the low bits) or a run list (``listFlag``, offset << 34 | count << 25
    /// | the answer's bits 0…24, shared by the list's runs).
    private let blocks: [UInt64]
    /// Runs of the /24 lists: the first low byte of the run << 8 | the answer's bits 25…32, by first
    /// byte.
    private let runs: [UInt16]

    static let childFlag: UInt64 = 1 << 63
    static let listFlag: UInt64 = 1 << 62
    static let answerBits: UInt64 = (1 << 33) - 1
    /// The answer bits a run list's entry holds for all its runs (lengths 0…24).
    static let coveringBits: UInt64 = (1 << 25) - 1

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
            let low = UInt16(truncatingIfNeeded: address & 0xFF)
            let start = Int(truncatingIfNeeded: entry >> 34 & 0xFFF_FFFF)
            let end = start &+ Int(truncatingIfNeeded: entry >> 25 & 0x1FF)
            return runs.withUnsafeBufferPointer { runs in
                // The first run starts at 0: the answer is the last run that starts at or before `low`.
                var index = start &+ 1
                while index < end && runs[index] >> 8 <= low { index &+= 1 }
                return entry & Self.coveringBits | UInt64(runs[index &- 1] & 0xFF) << 25
            }
        }
    }

    /// A prefix as a sort key: the (already masked) address, then the length.
    @inline(__always)
    static func key(_ value: UInt32, _ length: Int) -> UInt64 { UInt64(value) << 6 | UInt64(length) }

    /// The index of the prefixes `keys` (``key(_:_:)``; duplicates allowed).
    init(keys: [UInt64]) {
        let keys = Self.sortedUnique(keys)
        var builder = Builder()
        builder.blocks = [UInt64](repeating: 0, count: 256)
        keys.withUnsafeBufferPointer { keys in
            builder.fill(block: 0, level: 0, inherited: 0, keys: keys, keys.indices)
        }
        blocks = builder.blocks
        runs = builder.runs
    }

    /// `keys` (38 bits each) sorted and without repeats: a least-significant-digit radix sort in
    /// three passes of 13 bits, much cheaper than a comparison sort for the 100,000s of prefixes of
    /// a large policy.
    static func sortedUnique(_ keys: [UInt64]) -> [UInt64] {
        var current = keys
        var other = [UInt64](repeating: 0, count: keys.count)
        var counts = [Int](repeating: 0, count: (1 << 13) + 1)
        counts.withUnsafeMutableBufferPointer { counts in
            for shift in stride(from: UInt64(0), to: 39, by: 13) {
                current.withUnsafeMutableBufferPointer { current in
                    other.withUnsafeMutableBufferPointer { other in
                        for index in counts.indices { counts[index] = 0 }
                        for key in current { counts[Int(truncatingIfNeeded: key >> shift & 0x1FFF) &+ 1] &+= 1 }
                        for digit in 0..<(1 << 13) { counts[digit &+ 1] &+= counts[digit] }
                        for key in current {
                            let digit = Int(truncatingIfNeeded: key >> shift & 0x1FFF)
                            other[counts[digit]] = key
                            counts[digit] &+= 1
                        }
                    }
                }
                swap(&current, &other)
            }
        }
        let unique = current.withUnsafeMutableBufferPointer { keys -> Int in
            var unique = 0
            for index in keys.indices where unique == 0 || keys[index] != keys[unique &- 1] {
                keys[unique] = keys[index]
                unique &+= 1
            }
            return unique
        }
        current.removeLast(current.count - unique)
        return current
    }

    private struct Builder {
        var blocks: [UInt64] = []
        var runs: [UInt16] = []
        /// The prefixes open at the sweep's position (``appendRuns(covering:keys:_:)``).
        var open: [(end: Int, answer: UInt64)] = []

        /// Fills the 256 entries at `block` (level 0: the top byte, 1: the second, 2: the third) from
        /// the sorted prefixes `keys[range]` (all inside the block's range), each entry starting from
        /// `inherited` (the lengths of the prefixes that cover the whole block).
        ///
        /// In sorted order every prefix that covers a whole entry comes before the longer prefixes
        /// inside that entry, so one pass sees an entry's covering lengths before its children.
        mutating func fill(
            block: Int,
            level: Int,
            inherited: UInt64,
            keys: UnsafeBufferPointer<UInt64>,
            _ range: Range<Int>
        ) {
            let entryBits = 8 * (level + 1)  // a prefix this long or shorter covers whole entries
            let shift = UInt64(32 - entryBits + 6)
            for entry in 0..<256 { blocks[block + entry] = inherited }
            var index = range.lowerBound
            while index < range.upperBound {
                let key = keys[index]
                let length = Int(key & 63)
                let first = Int(key >> shift & 0xFF)
                if length <= entryBits {
                    // Covers 2^(entryBits - length) entries, or all of them when shorter than the block.
                    let span = length <= entryBits - 8 ? 256 : 1 << (entryBits - length)
                    let start = span == 256 ? 0 : first
                    for entry in start..<(start + span) { blocks[block + entry] |= 1 << UInt64(length) }
                    index += 1
                    continue
                }
                var end = index + 1
                while end < range.upperBound && Int(keys[end] >> shift & 0xFF) == first { end += 1 }
                let covering = blocks[block + first]
                if level == 2 {
                    let start = runs.count
                    appendRuns(covering: covering, keys: keys, index..<end)
                    // At most 256 runs, a start each; the covering lengths are 0…24 only.
                    blocks[block + first] =
                        PrefixCover.listFlag | UInt64(start) << 34 | UInt64(runs.count - start) << 25
                        | covering & PrefixCover.coveringBits
                } else {
                    let child = blocks.count
                    blocks.append(contentsOf: repeatElement(0, count: 256))
                    blocks[block + first] = PrefixCover.childFlag | UInt64(child)
                    fill(block: child, level: level + 1, inherited: covering, keys: keys, index..<end)
                }
                index = end
            }
        }

        /// The runs of one /24: its prefixes of length 25…32 over the 256 low bytes. The prefixes are
        /// sorted by start, outer ones first, and nest or do not overlap: one sweep with a stack of
        /// the open prefixes (end, answer inside) emits every run.
        mutating func appendRuns(covering: UInt64, keys: UnsafeBufferPointer<UInt64>, _ range: Range<Int>) {
            let first = runs.count
            func emit(_ point: Int, _ answer: UInt64) {
                let last = runs.count - 1
                let run = UInt16(point) << 8 | UInt16(truncatingIfNeeded: answer >> 25 & 0xFF)
                if last >= first && Int(runs[last] >> 8) == point {
                    runs[last] = run
                } else if last < first || runs[last] & 0xFF != run & 0xFF {
                    runs.append(run)
                }
            }
            open.removeAll(keepingCapacity: true)
            open.append((end: 255, answer: covering))
            emit(0, covering)
            for index in range {
                let key = keys[index]
                let length = Int(key & 63)
                let start = Int(key >> 6 & 0xFF)
                while open[open.count - 1].end < start {
                    let closed = open.removeLast()
                    emit(closed.end + 1, open[open.count - 1].answer)
                }
                let answer = open[open.count - 1].answer | 1 << UInt64(length)
                emit(start, answer)
                open.append((end: start + (1 << (32 - length)) - 1, answer: answer))
            }
            while open.count > 1 {
                let closed = open.removeLast()
                if closed.end < 255 { emit(closed.end + 1, open[open.count - 1].answer) }
            }
        }
    }
}
