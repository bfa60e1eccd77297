#if canImport(Glibc)
import Glibc
#endif

/// What the benchmark tools share: their failure and usage exits and the process's CPU clock.
public enum BenchmarkSupport {
    /// Prints `tool: message (usage: usage)` as one line on standard error and exits 2: the command line
    /// was wrong (an unknown flag, a value that is not a number or out of range), not the run.
    public static func usageError(_ tool: String, _ message: String, usage: String) -> Never {
        let line = "\(tool): \(message) (usage: \(usage))\n"
        _ = write(2, line, line.utf8.count)
        exit(2)
    }

    /// `text` as a whole number in `range`, or a ``usageError(_:_:usage:)`` naming `argument`.
    public static func number(
        _ text: String,
        argument: String,
        in range: ClosedRange<Int> = 1...Int.max,
        tool: String,
        usage: String
    ) -> Int {
        guard let value = Int(text), range.contains(value) else {
            let wanted =
                range.upperBound == Int.max
                ? "a whole number of at least \(range.lowerBound)"
                : "a whole number from \(range.lowerBound) to \(range.upperBound)"
            usageError(tool, "\(argument) \"\(text)\": expected \(wanted)", usage: usage)
        }
        return value
    }

    /// Prints `tool: message` on standard error and exits 1.
    public static func fail(_ tool: String, _ message: String) -> Never {
        let line = "\(tool): \(message)\n"
        _ = write(2, line, line.utf8.count)
        exit(1)
    }

    /// User plus system CPU time of this process so far, in seconds.
    public static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// CPU time of the calling thread so far, in seconds: unaffected by other threads of a busy test process.
    public static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// The best of three runs of `body` on this thread's CPU clock, in seconds (scaling tests compare two
    /// such figures taken in one run).
    public static func bestThreadCPUSeconds(_ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<3 {
            let start = threadCPUSeconds()
            try body()
            best = min(best, threadCPUSeconds() - start)
        }
        return best
    }
}
