internal import CIPsecSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A thread of its own for a loop that lives as long as something else does: an NFQUEUE reader, the
/// control socket's accept loop, a plugin host's frame reader, a plugin served in-process. Work that
/// ends by itself goes to ``BlockingPool`` instead.
public enum DedicatedThread {
    /// Starts `body` on a new detached thread named `name` (at most 15 bytes are shown by `ps`/`top`).
    ///
    /// `body` is the first thing the new thread runs: it allocates nothing before (the name is set by the
    /// creating thread), so the thread's first `malloc` — which reserves its 64 MiB glibc arena — is
    /// `body`'s. The plugin host relies on that: it caps the address space first thing in `body`.
    /// - Throws: ``SystemError`` (`pthread_create`) when no thread can be created; `body` then never runs.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let box = Unmanaged.passRetained(ThreadBody(body))
        var thread = pthread_t()
        let result = pthread_create(
            &thread,
            nil,
            { argument in
                let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
                body.run()
                return nil
            },
            box.toOpaque()
        )
        guard result == 0 else {
            box.release()
            throw SystemError("pthread_create", path: name, errno: Errno(rawValue: result))
        }
        cipsec_set_thread_name(thread, name)
        pthread_detach(thread)
    }

    /// Runs `body` on a new thread named `name` and returns its result when it ends; the calling task
    /// waits without blocking its thread (the `plugin-host` command's serving loop).
    public static func run<T: Sendable>(
        name: String,
        _ body: @escaping @Sendable () -> T
    ) async throws(SystemError) -> T {
        let result: Result<T, SystemError> = await withCheckedContinuation { continuation in
            do throws(SystemError) {
                try start(name: name) { continuation.resume(returning: .success(body())) }
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        return try result.get()
    }
}

private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void

    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// How tasks learn that a dedicated thread's loop has ended: the thread calls ``finish()`` once, and
/// every ``wait()`` — before or after — returns from then on.
public final class LoopEnd: Sendable {
    /// The tasks waiting; `nil` once the loop has ended.
    private let waiters = Mutex<[CheckedContinuation<Void, Never>]?>([])

    public init() {}

    /// Called by the thread when its loop is over (its resources released).
    public func finish() {
        let list = waiters.withLock { waiters in
            let list = waiters ?? []
            waiters = nil
            return list
        }
        for waiter in list { waiter.resume() }
    }

    /// Returns once ``finish()`` has been called.
    public func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = waiters.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if ended { continuation.resume() }
        }
    }
}
