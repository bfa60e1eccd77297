import IPsecSystem
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
        do {
            return try FileSystem.read(path, limit: limit, accept: .regularFiles)
        } catch  where error.errno == .fileTooLarge {
            throw PolicyFormatError(file: path, message: "the file is \(error.detail ?? "too large"); not parsed")
        } catch  where error.detail != nil {
            throw PolicyFormatError(file: path, message: error.detail!)
        } catch {
            throw PolicyFormatError(file: path, message: "cannot \(error.operation): \(error.errno)")
        }
    }
}
