import Foundation
import IPsecSystem

/// How long a process took to stop, and how much of that it spent runnable but without a CPU.
struct StopMeasurement: CustomStringConvertible {
    var status: Int32
    /// From the signal to the exit, seen by a thread that did nothing else.
    var wall: Duration
    /// The time the threads of the process and of its descendants were runnable but waited for a CPU,
    /// summed (what a loaded machine adds; the threads of a stop mostly wait for each other, so their
    /// waits seldom overlap).
    var runQueueWait: Duration

    /// The stop's own time: its wall time less what it waited for a CPU. A stop that waits for a timeout
    /// or hangs sleeps (it is not runnable then), so that time stays in.
    var own: Duration { max(.zero, wall - runQueueWait) }

    var description: String { "exit \(status) after \(wall) (\(runQueueWait) of it waiting for a CPU: own \(own))" }

    /// Signals a process and watches it until it exits (at most `timeout`) from a thread of its own — not
    /// the cooperative pool, which the other suites of this process keep busy, so the end is seen when it
    /// happens — sampling every 10 ms what the process and its descendants (the driver it started, hook
    /// tools) waited for a CPU.
    /// - Parameters:
    ///   - root: the process.
    ///   - signal: sends the signal (after the first sample).
    ///   - exited: how the process ended, once it has (it reaps the process); `code` is its exit status.
    /// - Returns: `nil` when it did not exit in time.
    static func watch<Exit: Sendable>(
        _ root: pid_t,
        timeout: Duration,
        signal: @escaping @Sendable () -> Void,
        exited: @escaping @Sendable () -> Exit?,
        code: @escaping @Sendable (Exit) -> Int32
    ) async -> (exit: Exit, took: StopMeasurement)? {
        let watched = try? await DedicatedThread.run(name: "test-stop-watch") { () -> (Exit, StopMeasurement)? in
            let clock = ContinuousClock()
            var waits = RunQueueWaits(root: root)
            let start = clock.now
            signal()
            while clock.now - start < timeout {
                waits.sample()
                if let exit = exited() {
                    return (
                        exit, StopMeasurement(status: code(exit), wall: clock.now - start, runQueueWait: waits.total)
                    )
                }
                usleep(10_000)
            }
            return nil
        }
        guard let watched = watched ?? nil else { return nil }
        return (watched.0, watched.1)
    }
}

/// Run-queue waits of a process tree, from `/proc/PID/task/TID/schedstat` (run ns, wait ns, slices), per
/// thread since the first sample; threads that end keep their last figure.
struct RunQueueWaits {
    let root: pid_t
    /// Per thread (`pid/tid`): the wait at the first sample, and the latest.
    private var threads: [String: (first: UInt64, last: UInt64)] = [:]
    private var sampled = false

    init(root: pid_t) {
        self.root = root
        sample()
        sampled = true
    }

    /// The waits since the first sample, summed over every thread seen.
    var total: Duration { .nanoseconds(Int64(threads.values.reduce(0) { $0 + ($1.last - $1.first) })) }

    mutating func sample() {
        for pid in Self.tree(root) {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            for tid in tasks {
                guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/schedstat", encoding: .utf8)
                else { continue }
                let fields = text.split(separator: " ")
                guard fields.count >= 2, let wait = UInt64(fields[1]) else { continue }
                let key = "\(pid)/\(tid)"
                // A thread that appears after the first sample waited all of its wait during the stop.
                let first = threads[key]?.first ?? (sampled ? 0 : wait)
                threads[key] = (first, max(wait, first))
            }
        }
    }

    /// `root` and its descendants (`/proc/PID/task/TID/children`).
    private static func tree(_ root: pid_t) -> [pid_t] {
        var result: [pid_t] = []
        var pending = [root]
        while let pid = pending.popLast(), result.count < 256 {
            result.append(pid)
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            for tid in tasks {
                let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/children", encoding: .utf8)) ?? ""
                pending += children.split(separator: " ").compactMap {
                    pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
        }
        return result
    }
}
