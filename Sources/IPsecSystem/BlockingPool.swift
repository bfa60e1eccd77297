import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The one way off Swift's cooperative pool for blocking work that ends on its own: a few threads of
/// their own, shared by the whole process, with an async ``run(_:)``.
///
/// A last resort, as NIO's `NIOThreadPool` is: use it when some (kernel thread) blocking work must be
/// done and no non-blocking API exists — reading or writing a file, `fsync`, taking the store lock,
/// waiting for a child process (always with a timeout), a blocking socket exchange with a timeout.
/// Work on the pool must finish by itself in bounded time, and must never wait for async work or for
/// other pool work (the pool may be full of exactly that work: a deadlock). Loops that live as long as
/// something else (queue readers, the control socket's accept loop, a plugin host's frame reader) take
/// a ``DedicatedThread`` instead. DESIGN.md §7 ("Concurrency") lists what runs where.
///
/// Jobs start in submission order on the first free thread; up to ``width`` run at once. Threads
/// are started when work first needs them and then stay, idle, for the life of the process.
public final class BlockingPool: Sendable {
    /// The process's pool.
    public static let shared = BlockingPool(width: 4, name: "ipsecsvc-pool")

    /// How many jobs may run at once.
    public let width: Int
    private let name: String
    private let state = Mutex(State())
    // A counting semaphore of queued jobs; allocated once, never moved or freed (the pool lives as
    // long as the process).
    private nonisolated(unsafe) let available: UnsafeMutablePointer<sem_t>

    private struct State {
        var queue: [@Sendable () -> Void] = []
        var threads = 0
        var idle = 0
    }

    /// A pool of at most `width` threads named `name-N`.
    public init(width: Int, name: String) {
        precondition(width > 0, "a blocking pool needs at least one thread")
        self.width = width
        self.name = name
        available = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
        sem_init(available, 0, 0)
    }

    /// Runs `work` on a pool thread and returns its result. The calling task waits without blocking
    /// its thread.
    ///
    /// The work runs to its end even when the calling task is cancelled (it cannot be interrupted
    /// from outside); work that should stop early on cancellation — a child process — arranges that
    /// itself (``ChildProcess/run(_:timeout:outputLimit:)``).
    public func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            submit {
                do throws(E) {
                    continuation.resume(returning: .success(try work()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Queues `job` to run on a pool thread (for callers that are not async).
    public func submit(_ job: @escaping @Sendable () -> Void) {
        let startThread = state.withLock { state -> Bool in
            state.queue.append(job)
            // Queued work that the idle threads cannot all take: one more thread, up to the width.
            guard state.queue.count > state.idle, state.threads < width else { return false }
            state.threads += 1
            return true
        }
        if startThread { startWorker() }
        sem_post(available)
    }

    private func startWorker() {
        let index = state.withLock { $0.threads }
        do {
            try DedicatedThread.start(name: "\(name)-\(index)") { [self] in work() }
        } catch {
            let none = state.withLock { state -> Bool in
                state.threads -= 1
                return state.threads == 0
            }
            // Without any thread queued work would wait forever; a process that cannot start a single
            // thread cannot do its job either.
            precondition(!none, "cannot start a thread for blocking work: \(error)")
        }
    }

    private func work() {
        while true {
            state.withLock { $0.idle += 1 }
            while sem_wait(available) != 0 {}  // EINTR only: `available` is valid for the process's life
            let job = state.withLock { state in
                state.idle -= 1
                return state.queue.removeFirst()
            }
            job()
        }
    }
}
