import Foundation
import IPsecSystem

/// A private directory under `/tmp` for one test; the test removes it with `defer { directory.remove() }`.
///
/// Every test target uses this one helper instead of its own `mkdtemp` wrapper.
public struct TemporaryDirectory: Sendable {
    public let path: String

    /// Creates `/tmp/<prefix>-XXXXXX` with mode 0700.
    public init(prefix: String = "ipsecsvc-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed: errno \(errno)")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` inside the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let file = file(name)
        // Close-on-exec: a child that another test spawns at this moment must not inherit the
        // descriptor, or a script written here cannot be executed while that child lives (ETXTBSY,
        // "text file busy", seen under load).
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot create \(file): errno \(errno)")
        defer { close(fd) }
        do {
            try FileSystem.writeAll(Array(text.utf8), to: fd, name: file)
        } catch {
            preconditionFailure("\(error)")
        }
        return file
    }

    /// Removes the directory and everything in it.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
