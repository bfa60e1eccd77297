/// For one address field (source or destination) of a shape set: which filter prefixes cover a given
/// address, and which prefix lengths on the *other* field each of them is paired with.
///
/// The answer for an address is a *chain record*: the prefixes that contain an address nest, so they
/// are the innermost one and its enclosing prefixes, and the record of the innermost prefix lists them
/// all: word 0 has bit `n` (0…32) set when a covering prefix has length `n` (bit 0: a filter with
/// `any`); word `1 + k` is the partner mask of the `k`-th covering length in ascending order (bit `m`:
/// some filter has this very prefix on this field and a prefix of length `m` on the other).
///
/// The classifier probes only the pairs (s, d) where a covering source prefix of length s is paired
/// with length d and a covering destination prefix of length d is paired with s: a pair of lengths
/// that merely both occur costs nothing unless filters join those two prefixes.
///
/// Layout: a multibit trie with 8-bit strides on the top three bytes (256-entry blocks, created only
/// under a byte that holds longer prefixes) and, under a /24 that holds longer prefixes, a short
/// list of (first low byte, record) runs; its leaves hold record offsets. A lookup is one to four
/// dependent loads, then the record (one or two cache lines).
struct PrefixCover {
    /// Blocks of 256 entries, the root first. An entry is a record offset (the low 33 bits), a child
    /// block (``childFlag``, offset in the low bits) or a run list (``listFlag``, offset << 16 | count).
    private let blocks: [UInt64]
    /// Runs of the /24 lists: the first low byte of the run << 40 | record offset, by first byte.
    private let runs: [UInt64]
    /// The chain records; offset 0 is the empty record (no covering prefix).
    let records: [UInt64]

    static let childFlag: UInt64 = 1 << 63
    static let listFlag: UInt64 = 1 << 62
    static let answerBits: UInt64 = (1 << 33) - 1

    /// The offset in ``records`` of the chain record for `address`.
    @inline(__always)
    func lookup(_ address: UInt32) -> Int {
        blocks.withUnsafeBufferPointer { blocks in
            var entry = blocks[Int(address >> 24)]
            var shift: UInt32 = 16
            while entry & Self.childFlag != 0 {
                entry = blocks[Int(truncatingIfNeeded: entry & Self.answerBits) &+ Int(address >> shift & 0xFF)]
                shift &-= 8
            }
            guard entry & Self.listFlag != 0 else { return Int(truncatingIfNeeded: entry) }
            let low = UInt64(address & 0xFF)
            let start = Int(truncatingIfNeeded: entry >> 16 & 0xFF_FFFF_FFFF)
            let end = start &+ Int(truncatingIfNeeded: entry & 0xFFFF)
            return runs.withUnsafeBufferPointer { runs in
                // The first run starts at 0: the answer is the last run that starts at or before `low`.
                var index = start &+ 1
                while index < end && runs[index] >> 40 <= low { index &+= 1 }
                return Int(truncatingIfNeeded: runs[index &- 1] & Self.answerBits)
            }
        }
    }

    /// The partner mask of length `length` in the record at `offset` whose lengths are `lengths`
    /// (``records```[offset]`), or 0 when `length` is not among them.
    @inline(__always)
    static func partners(
        _ records: UnsafeBufferPointer<UInt64>,
        _ offset: Int,
        _ lengths: UInt64,
        _ length: Int
    ) -> UInt64 {
        let bit: UInt64 = 1 << UInt64(length)
        if lengths & bit == 0 { return 0 }
        return records[offset &+ 1 &+ (lengths & (bit &- 1)).nonzeroBitCount]
    }

    /// A prefix as a sort key: the (already masked) address, then the length.
    @inline(__always)
    static func key(_ value: UInt32, _ length: Int) -> UInt64 { UInt64(value) << 6 | UInt64(length) }

    /// The index of the prefixes `keys` (``key(_:_:)``; repeats allowed) with the partner lengths
    /// `partners[i]` of `keys[i]` (repeats' masks are joined).
    init(keys: [UInt64], partners: [UInt64]) {
        let (keys, masks) = Self.sortedUnique(keys, partners)
        // The chain record of every prefix: its enclosing prefixes come before it in sorted order, so
        // a stack of the open prefixes gives each its parent's record to extend.
        var records: [UInt64] = [0]
        var recordOf = [UInt64](repeating: 0, count: keys.count)
        var open: [(end: UInt64, record: Int)] = []
        for (index, key) in keys.enumerated() {
            let length = Int(key & 63)
            let first = key >> 6
            let end = first | (length == 0 ? UInt64(UInt32.max) : (1 << UInt64(32 - length)) - 1)
            while let last = open.last, last.end < first { open.removeLast() }
            let parent = open.last?.record ?? 0
            let parentCount = records[parent].nonzeroBitCount
            let offset = records.count
            records.append(records[parent] | 1 << UInt64(length))
            // Lengths ascend along a chain: the new one goes last.
            for k in 0..<parentCount { records.append(records[parent + 1 + k]) }
            records.append(masks[index])
            recordOf[index] = UInt64(offset)
            open.append((end: end, record: offset))
        }
        var builder = Builder()
        builder.blocks = [UInt64](repeating: 0, count: 256)
        keys.withUnsafeBufferPointer { keys in
            recordOf.withUnsafeBufferPointer { recordOf in
                builder.fill(block: 0, level: 0, inherited: 0, keys: keys, recordOf: recordOf, keys.indices)
            }
        }
        blocks = builder.blocks
        runs = builder.runs
        self.records = records
    }

    /// `keys` (38 bits each) sorted and without repeats, with the joined `partners` of each: a
    /// least-significant-digit radix sort of key << 26 | position in three passes of 13 bits, much
    /// cheaper than a comparison sort for the 100,000s of prefixes of a large policy.
    static func sortedUnique(_ keys: [UInt64], _ partners: [UInt64]) -> (keys: [UInt64], partners: [UInt64]) {
        precondition(keys.count == partners.count && keys.count < 1 << 26)
        var current = keys.enumerated().map { $0.element << 26 | UInt64($0.offset) }
        var other = [UInt64](repeating: 0, count: keys.count)
        var counts = [Int](repeating: 0, count: (1 << 13) + 1)
        counts.withUnsafeMutableBufferPointer { counts in
            for shift in stride(from: UInt64(26), to: 64, by: 13) {
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
        var sorted: [UInt64] = []
        var joined: [UInt64] = []
        sorted.reserveCapacity(keys.count)
        joined.reserveCapacity(keys.count)
        for entry in current {
            let key = entry >> 26
            let mask = partners[Int(truncatingIfNeeded: entry & 0x3FF_FFFF)]
            if let last = sorted.last, last == key {
                joined[joined.count - 1] |= mask
            } else {
                sorted.append(key)
                joined.append(mask)
            }
        }
        return (sorted, joined)
    }

    private struct Builder {
        var blocks: [UInt64] = []
        var runs: [UInt64] = []
        /// The prefixes open at the sweep's position (``appendRuns(covering:keys:recordOf:_:)``).
        var open: [(end: Int, answer: UInt64)] = []

        /// Fills the 256 entries at `block` (level 0: the top byte, 1: the second, 2: the third) from
        /// the sorted prefixes `keys[range]` (all inside the block's range, with chain records
        /// `recordOf`), each entry starting from `inherited` (the record of the innermost prefix that
        /// covers the whole block).
        ///
        /// In sorted order every prefix comes before the prefixes it contains, so the last prefix
        /// written to an entry is the innermost one covering it.
        mutating func fill(
            block: Int,
            level: Int,
            inherited: UInt64,
            keys: UnsafeBufferPointer<UInt64>,
            recordOf: UnsafeBufferPointer<UInt64>,
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
                    for entry in start..<(start + span) { blocks[block + entry] = recordOf[index] }
                    index += 1
                    continue
                }
                var end = index + 1
                while end < range.upperBound && Int(keys[end] >> shift & 0xFF) == first { end += 1 }
                let covering = blocks[block + first]
                if level == 2 {
                    let start = runs.count
                    appendRuns(covering: covering, keys: keys, recordOf: recordOf, index..<end)
                    blocks[block + first] = PrefixCover.listFlag | UInt64(start) << 16 | UInt64(runs.count - start)
                } else {
                    let child = blocks.count
                    blocks.append(contentsOf: repeatElement(0, count: 256))
                    blocks[block + first] = PrefixCover.childFlag | UInt64(child)
                    fill(
                        block: child,
                        level: level + 1,
                        inherited: covering,
                        keys: keys,
                        recordOf: recordOf,
                        index..<end
                    )
                }
                index = end
            }
        }

        /// The runs of one /24: its prefixes of length 25…32 over the 256 low bytes. The prefixes are
        /// sorted by start, outer ones first, and nest or do not overlap: one sweep with a stack of
        /// the open prefixes (end, record inside) emits every run.
        mutating func appendRuns(
            covering: UInt64,
            keys: UnsafeBufferPointer<UInt64>,
            recordOf: UnsafeBufferPointer<UInt64>,
            _ range: Range<Int>
        ) {
            let first = runs.count
            func emit(_ point: Int, _ answer: UInt64) {
                let last = runs.count - 1
                if last >= first && Int(runs[last] >> 40) == point {
                    runs[last] = UInt64(point) << 40 | answer
                } else if last < first || runs[last] & PrefixCover.answerBits != answer {
                    runs.append(UInt64(point) << 40 | answer)
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
                let answer = recordOf[index]
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
