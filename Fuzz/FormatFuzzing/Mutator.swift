#if canImport(Glibc)
import Glibc
#endif

/// A small, dependency-free mutation engine for the bounded fuzz loop (used where libFuzzer is not):
/// bit flips, byte and word overwrites with boundary values, inserts, deletes, chunk duplication and
/// splicing with other corpus entries. Deterministic for a given seed.
public struct Mutator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// SplitMix64.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }

    private static let interesting: [UInt32] = [
        0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 64, 80,
    ]

    /// One to four mutations of `input`; `corpus` supplies material for splicing.
    public mutating func mutate(_ input: [UInt8], corpus: [[UInt8]], maximumSize: Int = 65_536) -> [UInt8] {
        var bytes = input
        for _ in 0...below(4) {
            switch below(9) {
            case 0 where !bytes.isEmpty:
                bytes[below(bytes.count)] ^= UInt8(1 << below(8))
            case 1 where !bytes.isEmpty:
                bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: next())
            case 2 where bytes.count >= 4:
                let value = Self.interesting[below(Self.interesting.count)]
                let at = below(bytes.count - 3)
                for index in 0..<4 { bytes[at + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
            case 3:
                let count = 1 + below(8)
                let at = below(bytes.count + 1)
                bytes.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
            case 4 where !bytes.isEmpty:
                let at = below(bytes.count)
                bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(16)))
            case 5 where !bytes.isEmpty:
                let at = below(bytes.count)
                let chunk = bytes[at..<min(bytes.count, at + 1 + below(64))]
                bytes.insert(contentsOf: chunk, at: below(bytes.count + 1))
            case 6 where !corpus.isEmpty:
                let other = corpus[below(corpus.count)]
                guard !other.isEmpty else { break }
                let from = below(other.count)
                let chunk = other[from..<min(other.count, from + 1 + below(128))]
                let at = below(bytes.count + 1)
                bytes.replaceSubrange(at..<min(bytes.count, at + chunk.count), with: chunk)
            case 7 where !bytes.isEmpty:
                bytes.removeSubrange(below(bytes.count)...)  // Truncate.
            case 8 where bytes.count > 1:
                // Text-level: swap two bytes, which moves separators and quotes around.
                bytes.swapAt(below(bytes.count), below(bytes.count))
            default:
                bytes.append(UInt8(truncatingIfNeeded: next()))
            }
        }
        return bytes.count > maximumSize ? Array(bytes.prefix(maximumSize)) : bytes
    }
}

/// Figures of a fuzz run.
public struct FuzzStatistics: Sendable, CustomStringConvertible {
    public var target: FuzzTarget
    public var inputs = 0
    public var accepted = 0
    /// CPU seconds of the slowest input (the loop's own thread).
    public var slowestSeconds = 0.0
    public var slowestSize = 0
    public var totalSeconds = 0.0
    public var corpusSize = 0

    public var description: String {
        let rate = totalSeconds > 0 ? Int(Double(inputs) / totalSeconds) : 0
        return
            "\(target.rawValue): \(inputs) inputs in \(String(format2(totalSeconds))) s (\(rate)/s), \(accepted) accepted, slowest \(String(format2(slowestSeconds * 1000))) ms (\(slowestSize) bytes), corpus \(corpusSize)"
    }

    private func format2(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return String(scaled)
    }
}

extension FormatFuzzing {
    /// The bounded mutation loop: `iterations` mutated inputs drawn from `seeds`, keeping accepted inputs
    /// (up to 512) as further material. Traps on a broken round trip.
    public static func loop(
        _ target: FuzzTarget,
        seeds: [[UInt8]],
        iterations: Int,
        seed: UInt64 = 1,
        maximumSize: Int = 65_536
    ) -> FuzzStatistics {
        var statistics = FuzzStatistics(target: target)
        var corpus = seeds.isEmpty ? [[]] : seeds
        var mutator = Mutator(seed: seed)
        let clock = ContinuousClock()
        let start = clock.now
        for seedInput in seeds { run(target, seedInput) }
        for _ in 0..<iterations {
            let input = mutator.mutate(corpus[mutator.below(corpus.count)], corpus: corpus, maximumSize: maximumSize)
            // A hang is a parser spinning: count this thread's CPU time, which other work on a loaded
            // machine (the test suite runs in parallel) cannot inflate the way it inflates wall time.
            let before = threadCPUSeconds()
            let accepted = run(target, input)
            let seconds = threadCPUSeconds() - before
            statistics.inputs += 1
            if accepted {
                statistics.accepted += 1
                if corpus.count < 512 { corpus.append(input) } else { corpus[mutator.below(corpus.count)] = input }
            }
            if seconds > statistics.slowestSeconds {
                statistics.slowestSeconds = seconds
                statistics.slowestSize = input.count
            }
        }
        let total = start.duration(to: clock.now)
        statistics.totalSeconds = Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18
        statistics.corpusSize = corpus.count
        return statistics
    }
}

/// CPU time consumed by the calling thread, in seconds.
private func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
