import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Small blocking file helpers for the stores. Store files are small, but the directory snapshot can be
/// megabytes, so async callers go through ``BlockingIO/run(_:)`` to stay off the cooperative pool.
enum FileIO {
    /// An error from reading a file, with the path and errno.
    struct ReadError: Error, Hashable, Sendable, CustomStringConvertible {
        var path: String
        var errno: Int32
        var description: String { "\(path): \(String(cString: strerror(errno)))" }
    }

    /// The file's bytes, or `nil` when it does not exist.
    static func read(_ path: String) throws(ReadError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ReadError(path: path, errno: errno)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(path: path, errno: errno)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Removes a file; a missing file is not an error.
    static func remove(_ path: String) throws(DurableFile.WriteError) {
        if unlink(path) != 0, errno != ENOENT {
            throw DurableFile.WriteError(path: path, operation: "unlink", errno: errno)
        }
    }

    /// Renames a file and makes the rename durable.
    static func rename(_ from: String, to: String) throws(DurableFile.WriteError) {
        if Glibc.rename(from, to) != 0 { throw DurableFile.WriteError(path: from, operation: "rename", errno: errno) }
    }

    /// FNV-1a over the bytes: tells whether a store file changed since it was loaded.
    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}

/// Runs blocking work (file reads, flock) on a Dispatch queue instead of the cooperative pool.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "ipsecsvc.providers.io")

    static func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(E) {
                    continuation.resume(returning: .success(try work()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
