internal import CIPsecPluginABI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a plugin's policy combines with the built-in sources.
public enum PolicySourceKind: Sendable {
    /// Merged on top, like dynamic rules.
    case additive
    /// Competes by rank with the directory, directory-cache and local sources.
    case directoryLike
}

/// A policy source written in Swift: conform a class to this protocol, then export it with one line
///
/// ```swift
/// @c(ipsec_plugin_entry_v1)
/// public func ipsecPluginEntry(_ hostABIVersion: UInt32) -> UnsafeRawPointer? {
///     IPsecPluginExport.entry(MySource.self, hostABIVersion: hostABIVersion)
/// }
/// ```
///
/// and build it as a `.dynamic` library product. The kit turns the type into the C table of
/// `ipsec_plugin.h`; nothing Swift-specific crosses the boundary.
///
/// Threading: the host creates one instance per plugin start and calls ``fetch()`` and ``close()`` from
/// one thread at a time (not always the same thread). ``PluginChangeNotifier/signal()`` may be called
/// from any thread.
///
/// - Important: build Swift plugins with the same Swift toolchain as the `ipsecsvc` that loads them.
///   Swift has no stable ABI on Linux; the host refuses a plugin whose toolchain differs.
public protocol PolicySourcePlugin: AnyObject {
    /// Short identifier: 1-64 characters of `A-Z a-z 0-9 . _ -`.
    static var name: String { get }
    /// The plugin's version, free text.
    static var version: String { get }
    static var kind: PolicySourceKind { get }
    /// Used when the plugins.d file sets no `rank`; lower wins.
    static var defaultRank: Int32 { get }
    /// Seconds between fetches the host makes on its own; 0 (the default) relies on ``PluginChangeNotifier``.
    static var pollIntervalSeconds: UInt32 { get }

    /// Opens the source.
    /// - Parameters:
    ///   - options: the `option.*` lines of the plugin's plugins.d file.
    ///   - changes: call ``PluginChangeNotifier/signal()`` when the policy may have changed.
    /// - Throws: any error; its description becomes the reason the source failed.
    init(options: PluginOptions, changes: PluginChangeNotifier) throws

    /// The current policy as a complete native XML document (`<policyStore xmlns="urn:ipsecsvc:policy:1">`).
    /// - Throws: any error; its description becomes the reason the source failed.
    func fetch() throws -> String

    /// Releases resources and stops anything that would call the notifier. Default: nothing.
    func close()
}

extension PolicySourcePlugin {
    public static var pollIntervalSeconds: UInt32 { 0 }
    public func close() {}
}

/// The plugin's options: the `option.NAME = VALUE` lines of its plugins.d file, in file order.
public struct PluginOptions: Sendable {
    /// The configuration string exactly as the host passed it.
    public let raw: String
    /// The options in order.
    public let entries: [(key: String, value: String)]

    public init(_ raw: String) {
        self.raw = raw
        self.entries = raw.split(separator: "\n").compactMap { line in
            guard let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    /// The last value given for `key`.
    public subscript(key: String) -> String? { entries.last { $0.key == key }?.value }
}

/// Tells the host that the policy may have changed; it then fetches soon.
public struct PluginChangeNotifier: @unchecked Sendable {
    // Why @unchecked Sendable: it holds the host's C callback and context, which the ABI declares
    // callable from any thread until `close` returns.
    private let callback: ipsec_plugin_changed_fn?
    private let context: UnsafeMutableRawPointer?

    init(callback: ipsec_plugin_changed_fn?, context: UnsafeMutableRawPointer?) {
        self.callback = callback
        self.context = context
    }

    /// A notifier that does nothing (for unit tests of a plugin type).
    public static let none = PluginChangeNotifier(callback: nil, context: nil)

    /// Signals a change. Never blocks; calls may be coalesced. Do not call after ``PolicySourcePlugin/close()``.
    public func signal() {
        callback?(context)
    }
}

/// Builds the C table for a ``PolicySourcePlugin`` type.
public enum IPsecPluginExport {
    /// The body of the exported entry function: registers `type` and returns its table, or `nil` when
    /// the host speaks another ABI version.
    public static func entry(_ type: any PolicySourcePlugin.Type, hostABIVersion: UInt32) -> UnsafeRawPointer? {
        guard hostABIVersion == IPSEC_PLUGIN_ABI_VERSION else { return nil }
        return registration.withLock { current -> UnsafeRawPointer in
            if let current { return UnsafeRawPointer(current.table) }
            let new = Registration(type: type, table: makeTable(type))
            current = new
            return UnsafeRawPointer(new.table)
        }
    }

    /// The compiler this kit was built with, as the host compares it.
    public static var swiftToolchain: String {
        #if compiler(>=6.5)
        "swift-6.5+"
        #elseif compiler(>=6.4)
        "swift-6.4"
        #elseif compiler(>=6.3)
        "swift-6.3"
        #elseif compiler(>=6.2)
        "swift-6.2"
        #else
        "swift-6.1-"
        #endif
    }

    fileprivate static var registeredType: (any PolicySourcePlugin.Type)? {
        registration.withLock { $0?.type }
    }

    private static func makeTable(_ type: any PolicySourcePlugin.Type) -> UnsafeMutablePointer<ipsec_plugin_v1> {
        // The table and its strings live as long as the process: the ABI requires static lifetime.
        let table = UnsafeMutablePointer<ipsec_plugin_v1>.allocate(capacity: 1)
        table.initialize(
            to: ipsec_plugin_v1(
                abi_version: IPSEC_PLUGIN_ABI_VERSION,
                struct_size: UInt32(MemoryLayout<ipsec_plugin_v1>.size),
                name: UnsafePointer(strdup(type.name)),
                version: UnsafePointer(strdup(type.version)),
                kind: type.kind == .additive
                    ? UInt32(IPSEC_PLUGIN_KIND_ADDITIVE.rawValue) : UInt32(IPSEC_PLUGIN_KIND_DIRECTORY_LIKE.rawValue),
                default_rank: type.defaultRank,
                poll_interval_seconds: type.pollIntervalSeconds,
                reserved: 0,
                swift_toolchain: UnsafePointer(strdup(swiftToolchain)),
                open: pluginOpen,
                fetch: pluginFetch,
                close: pluginClose
            )
        )
        return table
    }
}

/// The registered type and its table (one plugin type per shared object).
private struct Registration: @unchecked Sendable {
    // Why @unchecked Sendable: the table is written once, before it is published, and never changes.
    let type: any PolicySourcePlugin.Type
    let table: UnsafeMutablePointer<ipsec_plugin_v1>
}

private let registration = Mutex<Registration?>(nil)

/// One open instance and the document it last returned (valid until the next fetch or close).
private final class Instance {
    let plugin: any PolicySourcePlugin
    var document: UnsafeMutableBufferPointer<UInt8>?

    init(_ plugin: any PolicySourcePlugin) {
        self.plugin = plugin
    }

    deinit { document?.deallocate() }
}

private func writeError(_ message: String, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) {
    guard let buffer, capacity > 0 else { return }
    let bytes = Array(message.utf8.prefix(capacity - 1))
    for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
    buffer[bytes.count] = 0
}

private let pluginOpen:
    @convention(c) (
        UnsafePointer<CChar>?, ipsec_plugin_changed_fn?, UnsafeMutableRawPointer?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<CChar>?, Int
    ) -> Int32 = { configuration, changed, context, instance, errorBuffer, capacity in
        guard let type = IPsecPluginExport.registeredType else {
            writeError("plugin type not registered", errorBuffer, capacity)
            return IPSEC_PLUGIN_ERROR.rawValue
        }
        do {
            let options = PluginOptions(configuration.map { String(cString: $0) } ?? "")
            let plugin = try type.init(
                options: options,
                changes: PluginChangeNotifier(callback: changed, context: context)
            )
            instance?.pointee = Unmanaged.passRetained(Instance(plugin)).toOpaque()
            return IPSEC_PLUGIN_OK.rawValue
        } catch {
            writeError("\(error)", errorBuffer, capacity)
            return IPSEC_PLUGIN_ERROR.rawValue
        }
    }

private let pluginFetch:
    @convention(c) (
        UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafeMutablePointer<Int>?,
        UnsafeMutablePointer<CChar>?, Int
    ) -> Int32 = { instance, document, length, errorBuffer, capacity in
        guard let instance else {
            writeError("fetch without an instance", errorBuffer, capacity)
            return IPSEC_PLUGIN_ERROR.rawValue
        }
        let box = Unmanaged<Instance>.fromOpaque(instance).takeUnretainedValue()
        do {
            let text = try box.plugin.fetch()
            box.document?.deallocate()
            let bytes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(text.utf8.count, 1))
            _ = bytes.initialize(from: text.utf8)
            box.document = bytes
            document?.pointee = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            length?.pointee = text.utf8.count
            return IPSEC_PLUGIN_OK.rawValue
        } catch {
            writeError("\(error)", errorBuffer, capacity)
            return IPSEC_PLUGIN_ERROR.rawValue
        }
    }

private let pluginClose: @convention(c) (UnsafeMutableRawPointer?) -> Void = { instance in
    guard let instance else { return }
    let box = Unmanaged<Instance>.fromOpaque(instance).takeRetainedValue()
    box.plugin.close()
}
