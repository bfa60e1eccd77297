internal import CIPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// Pipes and socket pairs, close-on-exec from the start: a child spawned at the same moment by another
/// thread never inherits them (``ChildProcess`` passes descriptors only on request).
public enum Descriptors {
    /// A pipe: `(read, write)`.
    /// - Parameter nonBlocking: both ends with `O_NONBLOCK`.
    public static func pipe(nonBlocking: Bool = false) throws(SystemError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        try SystemCall.negativeErrno("pipe2") { cipsec_pipe_cloexec(&ends) }
        if nonBlocking {
            for end in ends { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
        }
        return (ends[0], ends[1])
    }

    /// A connected pair of Unix stream sockets.
    public static func socketPair() throws(SystemError) -> (Int32, Int32) {
        var pair: [Int32] = [-1, -1]
        try SystemCall.check("socketpair") {
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair)
        }
        return (pair[0], pair[1])
    }
}
