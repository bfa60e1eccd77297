// IPsecSystem is the project's one layer over the Linux system calls (DESIGN.md §2, "System layer"):
// errno and its error type, bounded file reads, durable writes, the store lock, child processes,
// threads, the blocking pool, interface addresses and peer credentials. Every other module calls
// these instead of Glibc, so EINTR, close-on-exec, size limits and error texts are handled once.
#if canImport(Glibc)
import Glibc
#endif

/// An `errno` value.
///
/// The named values are the ones the project tests for; any other code is still carried and described.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno` now.
    public static var current: Errno { Errno(rawValue: Glibc.errno) }

    /// `EINTR`: a signal interrupted the call.
    public static let interrupted = Errno(rawValue: EINTR)
    /// `ENOENT`: no such file or directory.
    public static let noSuchFile = Errno(rawValue: ENOENT)
    /// `EEXIST`: the file exists.
    public static let exists = Errno(rawValue: EEXIST)
    /// `EAGAIN` (`EWOULDBLOCK`): nothing to do now, or a socket timeout expired.
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    /// `EACCES`: permission denied.
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// `EPERM`: operation not permitted.
    public static let notPermitted = Errno(rawValue: EPERM)
    /// `EISDIR`: a directory where a file was expected.
    public static let isDirectory = Errno(rawValue: EISDIR)
    /// `EINVAL`: not a kind of file (or value) the call accepts.
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// `EFBIG`: larger than the limit the caller set.
    public static let fileTooLarge = Errno(rawValue: EFBIG)
    /// `ETIMEDOUT`: the operation did not finish in time.
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    /// `ESRCH`: no such process.
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    /// `ENOSYS`: the kernel lacks the call.
    public static let notImplemented = Errno(rawValue: ENOSYS)
    /// `ENAMETOOLONG`: a path longer than the call accepts.
    public static let nameTooLong = Errno(rawValue: ENAMETOOLONG)
    /// `ERANGE`: a buffer too small for the result.
    public static let outOfRange = Errno(rawValue: ERANGE)
    /// `ENOPROTOOPT`: the kernel does not know the socket option.
    public static let noProtocolOption = Errno(rawValue: ENOPROTOOPT)
    /// `EMFILE`: this process has no descriptor left.
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)

    /// `strerror`'s text, lower-cased so that it reads inside a sentence ("no such file or directory").
    public var description: String {
        let text = String(cString: strerror(rawValue))
        guard let first = text.first else { return "errno \(rawValue)" }
        // Lower only a capitalised word ("No such file"), not an acronym ("I/O error").
        return text.dropFirst().first?.isLowercase == true ? first.lowercased() + text.dropFirst() : text
    }
}

/// A failed system operation: what was attempted, on which file or program, and why.
///
/// The one error type of the system layer. ``description`` is one sentence for the user:
/// `/var/lib/ipsecsvc/local.xml: open: permission denied`.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The call or step: `open`, `read`, `fsync`, `rename`, `spawn`, `wait`, `getsockopt(SO_PEERCRED)`.
    public var operation: String
    /// The file, directory, socket or program the operation was about, if any.
    public var path: String?
    public var errno: Errno
    /// Said instead of the errno text when the layer itself decided (a size limit, a timeout).
    public var detail: String?

    public init(_ operation: String, path: String? = nil, errno: Errno = .current, detail: String? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let reason = detail ?? errno.description
        if let path { return "\(path): \(operation): \(reason)" }
        return "\(operation): \(reason)"
    }
}

/// The choke point for "returns -1 and sets errno" calls, after swift-system's `valueOrErrno`.
public enum SystemCall {
    /// Runs `body` until it returns a non-negative value, retrying on `EINTR` when `retryOnInterrupt`;
    /// any other failure throws ``SystemError`` naming `operation` and `path`.
    @discardableResult
    public static func check<T: BinaryInteger>(
        _ operation: String,
        path: String? = nil,
        retryOnInterrupt: Bool = true,
        _ body: () -> T
    ) throws(SystemError) -> T {
        try retrying(operation, path: path, retryOnInterrupt: retryOnInterrupt, body) { _ in Errno.current }
    }

    /// For the shim's convention (`CIPsecSystem`): the result, or a negative errno.
    @discardableResult
    static func negativeErrno<T: BinaryInteger>(
        _ operation: String,
        path: String? = nil,
        retryOnInterrupt: Bool = true,
        _ body: () -> T
    ) throws(SystemError) -> T {
        try retrying(operation, path: path, retryOnInterrupt: retryOnInterrupt, body) { result in
            Errno(rawValue: Int32(truncatingIfNeeded: -Int64(result)))
        }
    }

    /// Runs `body` until it returns a non-negative value, retrying on `EINTR` when `retryOnInterrupt`;
    /// `errno` names the error of a negative result.
    @inline(never)  // nothing may run between the call and the read of errno
    private static func retrying<T: BinaryInteger>(
        _ operation: String,
        path: String?,
        retryOnInterrupt: Bool,
        _ body: () -> T,
        errno: (T) -> Errno
    ) throws(SystemError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno(result)
            if code == .interrupted && retryOnInterrupt { continue }
            throw SystemError(operation, path: path, errno: code)
        }
    }
}
