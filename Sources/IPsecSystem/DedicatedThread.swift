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

/// How tasks learn that something that happens once has happened — a dedicated thread's loop ended, a
/// plugin's registration settled: the owner calls ``finish()`` once, and every ``wait()`` — before or
/// after — returns from then on.
public final class LoopEnd: Sendable {
    private struct Waiters {
        var list: [Int: CheckedContinuation<Void, Never>] = [:]
        var next = 0
        var finished = false
    }

    private let waiters = Mutex(Waiters())

    public init() {}

    /// Called by the owner when it is over (a thread: once its resources are released).
    public func finish() {
        let list = waiters.withLock { waiters in
            let list = waiters.list.values
            waiters.list = [:]
            waiters.finished = true
            return Array(list)
        }
        for waiter in list { waiter.resume() }
    }

    /// Returns once ``finish()`` has been called, whatever happens to the calling task.
    public func wait() async {
        _ = await wait(cancellable: false)
    }

    /// Returns `true` once ``finish()`` has been called, or `false` as soon as the calling task is
    /// cancelled (a wait that is bounded by a race with a timer).
    public func waitUnlessCancelled() async -> Bool {
        await wait(cancellable: true)
    }

    private func wait(cancellable: Bool) async -> Bool {
        let id = waiters.withLock { waiters in
            defer { waiters.next += 1 }
            return waiters.next
        }
        let leave: @Sendable () -> Void = { [self] in
            waiters.withLock { $0.list.removeValue(forKey: id) }?.resume()
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = waiters.withLock { waiters -> Bool in
                    if waiters.finished { return true }
                    waiters.list[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
                if cancellable, Task.isCancelled { leave() }
            }
            return waiters.withLock { $0.finished }
        } onCancel: {
            if cancellable { leave() }
        }
    }
}
