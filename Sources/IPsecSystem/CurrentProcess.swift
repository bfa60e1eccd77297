internal import CIPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// This process and the others it asks about.
public enum CurrentProcess {
    /// This process's PID.
    public static var pid: Int32 { getpid() }

    /// The environment variable `name`, if set.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The whole environment as `NAME=value` entries (for a child that gets one more variable).
    public static func environment() -> [String] {
        var result: [String] = []
        var index = 0
        while let entry = environ[index] {
            result.append(String(cString: entry))
            index += 1
        }
        return result
    }

    /// Gives the heap's free pages back to the kernel (`malloc_trim(0)`). glibc keeps what a big,
    /// short-lived working set freed (parsing a store, merging and encoding a policy of 100,000 filters)
    /// as free chunks between live ones and returns only the top of each arena by itself: without this
    /// the agent stayed at about twice the memory it uses. Costs a few milliseconds; call it after such
    /// work, never on a hot path.
    /// - Returns: whether any memory was released.
    @discardableResult
    public static func releaseFreeHeapMemory() -> Bool {
        cipsec_release_free_heap() == 1
    }

    /// This process's executable (`/proc/self/exe`), or `argv[0]` when that cannot be read.
    public static var executablePath: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether process `pid` exists (signal 0), including a zombie.
    public static func exists(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || Errno.current == .notPermitted
    }

    /// Whether process `pid` exists and has not exited: a zombie waiting for its parent counts as
    /// exited, though `kill(pid, 0)` still succeeds for it.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard exists(pid) else { return false }
        guard let stat = try? FileSystem.readTextIfPresent("/proc/\(pid)/stat", limit: 4096),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: close)...].first { $0 != " " }
        return state != "Z" && state != "X"
    }

    /// The number of CPUs this process may run on.
    public static var processorCount: Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))).clamped(to: 1...4096)
    }
}

/// The clocks the service reports in.
public enum SystemClock {
    /// Seconds since 1970 UTC.
    public static func secondsSince1970() -> Int64 { Int64(time(nil)) }

    /// `CLOCK_MONOTONIC` in microseconds (what systemd's `MONOTONIC_USEC=` expects).
    public static func monotonicMicroseconds() -> UInt64 { monotonicNanoseconds() / 1000 }

    /// `CLOCK_MONOTONIC` in nanoseconds: cheap enough for every packet event.
    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }
}

extension Comparable {
    fileprivate func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
