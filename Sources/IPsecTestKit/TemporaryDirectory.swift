import Foundation

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
        _ = FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        return file
    }

    /// Removes the directory and everything in it.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
