import Glibc
public import PolicyModel

extension NativePolicyXML {
    /// Reads a document from a file, checking its size before reading a byte of it.
    ///
    /// Opens only `path` (no other file, no network); a FIFO or device is refused, since its size
    /// cannot be checked first.
    /// - Throws: ``PolicyFormatError`` naming `path`.
    public static func read(
        contentsOf path: String,
        limits: Limits = .default
    ) throws(PolicyFormatError) -> PolicyStore {
        try read(try readFile(path, limit: limits.maxBytes), file: path, limits: limits)
    }

    static func readFile(_ path: String, limit: Int) throws(PolicyFormatError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard descriptor >= 0 else { throw systemError(path, "cannot open") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw systemError(path, "cannot examine") }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw PolicyFormatError(file: path, message: "not a regular file")
        }
        let size = Int(status.st_size)
        guard size <= limit else {
            throw tooLarge(size, file: path, limits: Limits(maxBytes: limit))
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let count = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress! + done, size - done)
            }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw systemError(path, "cannot read") }
            // The file shrank while we read it: use what is there.
            guard count > 0 else { return Array(bytes[..<done]) }
            done += count
        }
        return bytes
    }

    private static func systemError(_ path: String, _ what: String) -> PolicyFormatError {
        PolicyFormatError(file: path, message: "\(what): \(String(cString: strerror(errno)))")
    }
}
