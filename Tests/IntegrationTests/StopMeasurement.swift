import Foundation

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
