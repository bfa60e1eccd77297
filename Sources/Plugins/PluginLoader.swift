internal import CIPsecPluginABI

#if canImport(Glibc)
import Glibc
#endif

/// How a plugin's policy combines with the built-in sources (`ipsec_plugin_kind`).
public enum PluginKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// Merged on top like dynamic rules.
    case additive
    /// Competes by rank with the directory, directory-cache and local sources.
    case directoryLike = "directory-like"
}

/// What a plugin's table says about it.
public struct PluginInfo: Hashable, Sendable, Codable {
    public var name: String
    public var version: String
    public var kind: PluginKind
    public var defaultRank: Int
    /// 0: the plugin relies on its change callback.
    public var pollIntervalSeconds: UInt32
    /// Set by Swift plugins only: the compiler they were built with.
    public var swiftToolchain: String?

    public init(
        name: String,
        version: String,
        kind: PluginKind,
        defaultRank: Int,
        pollIntervalSeconds: UInt32 = 0,
        swiftToolchain: String? = nil
    ) {
        self.name = name
        self.version = version
        self.kind = kind
        self.defaultRank = defaultRank
        self.pollIntervalSeconds = pollIntervalSeconds
        self.swiftToolchain = swiftToolchain
    }

    /// The ABI version this host implements (`IPSEC_PLUGIN_ABI_VERSION`).
    public static var hostABIVersion: UInt32 { IPSEC_PLUGIN_ABI_VERSION }

    /// The Swift compiler this host was built with, in the form IPsecPluginKit writes into
    /// `swift_toolchain`. Swift plugins must match it: Swift has no stable ABI on Linux.
    public static var hostSwiftToolchain: String {
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

    /// 1-64 characters of `A-Z a-z 0-9 . _ -`.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
    }

    /// `key=value` lines: how the plugin host sends the info to the service.
    var encoded: [UInt8] {
        var lines = [
            "abi=\(Self.hostABIVersion)", "name=\(name)", "version=\(version)", "kind=\(kind.rawValue)",
            "rank=\(defaultRank)", "poll=\(pollIntervalSeconds)",
        ]
        if let swiftToolchain { lines.append("swift=\(swiftToolchain)") }
        return Array(lines.joined(separator: "\n").utf8)
    }

    init?(encoded: [UInt8]) {
        var fields: [String: String] = [:]
        for line in String(decoding: encoded, as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { return nil }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard let name = fields["name"], let version = fields["version"],
            let kind = fields["kind"].flatMap(PluginKind.init(rawValue:)),
            let rank = fields["rank"].flatMap({ Int($0) }), let poll = fields["poll"].flatMap({ UInt32($0) })
        else { return nil }
        self.init(
            name: name,
            version: version,
            kind: kind,
            defaultRank: rank,
            pollIntervalSeconds: poll,
            swiftToolchain: fields["swift"]
        )
    }
}

/// Why a shared object could not be used as a plugin. Nothing in the plugin was called except, for
/// the ABI checks, its entry function.
public struct PluginLoadError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// A failed `open` or `fetch`: the plugin's own reason, or the host's when the plugin broke the contract.
struct PluginCallError: Error, Hashable, Sendable, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A plugin loaded with `dlopen` whose table passed the ABI checks.
///
/// Used by the plugin-host process (and, when a configuration asks for it, in the service's process).
/// The library is never unloaded: Swift plugins must not be `dlclose`d, and a C plugin's threads could
/// still be running.
final class LoadedPlugin: @unchecked Sendable {
    // Why @unchecked Sendable: the table is immutable static memory of the plugin; the instance calls
    // (open/fetch/close) are serialised by the one thread that serves this plugin, as the ABI requires.
    let path: String
    let info: PluginInfo
    private let table: UnsafePointer<ipsec_plugin_v1>

    private init(path: String, info: PluginInfo, table: UnsafePointer<ipsec_plugin_v1>) {
        self.path = path
        self.info = info
        self.table = table
    }

    /// Loads the shared object and checks the table: ABI version and size first, then the rest.
    /// - Throws: ``PluginLoadError``; an ABI mismatch names both versions.
    static func load(path: String) throws(PluginLoadError) -> LoadedPlugin {
        func fail(_ message: String) -> PluginLoadError { PluginLoadError(path: path, message: message) }
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw fail("dlopen failed: " + (dlerror().map { String(cString: $0) } ?? "unknown dlopen error"))
        }
        let hostVersion = IPSEC_PLUGIN_ABI_VERSION
        guard let symbol = dlsym(handle, IPSEC_PLUGIN_ENTRY_SYMBOL) else {
            // Name the version the plugin was built for when it exports another entry.
            for version in 2...9 where dlsym(handle, "ipsec_plugin_entry_v\(version)") != nil {
                throw fail(
                    "plugin ABI version \(version) (it exports ipsec_plugin_entry_v\(version)) does not match "
                        + "host ABI version \(hostVersion); rebuild it against this ipsecsvc's ipsec_plugin.h"
                )
            }
            throw fail("does not export \(IPSEC_PLUGIN_ENTRY_SYMBOL) (host ABI version \(hostVersion))")
        }
        let entry = unsafeBitCast(symbol, to: ipsec_plugin_entry_v1_fn.self)
        guard let table = entry(hostVersion) else {
            throw fail("its entry returned no table for host ABI version \(hostVersion)")
        }
        let abi = table.pointee.abi_version
        guard abi == hostVersion else {
            throw fail(
                "plugin ABI version \(abi) does not match host ABI version \(hostVersion); "
                    + "rebuild it against this ipsecsvc's ipsec_plugin.h"
            )
        }
        let size = Int(table.pointee.struct_size)
        guard size >= MemoryLayout<ipsec_plugin_v1>.size else {
            throw fail(
                "plugin table is \(size) bytes, host ABI version \(hostVersion) needs at least "
                    + "\(MemoryLayout<ipsec_plugin_v1>.size)"
            )
        }
        let t = table.pointee
        guard t.open != nil, t.fetch != nil, t.close != nil else {
            throw fail("plugin table lacks open, fetch or close")
        }
        guard let namePointer = t.name, let name = validUTF8(namePointer, limit: 64), PluginInfo.isValidName(name)
        else { throw fail("plugin name must be 1-64 characters of A-Z a-z 0-9 . _ -") }
        let version = t.version.flatMap { validUTF8($0, limit: 256) } ?? ""
        let kind: PluginKind
        switch t.kind {
        case UInt32(IPSEC_PLUGIN_KIND_ADDITIVE.rawValue): kind = .additive
        case UInt32(IPSEC_PLUGIN_KIND_DIRECTORY_LIKE.rawValue): kind = .directoryLike
        default: throw fail("plugin kind \(t.kind) is neither additive (1) nor directory-like (2)")
        }
        let toolchain = t.swift_toolchain.flatMap { validUTF8($0, limit: 64) }
        if let toolchain, toolchain != PluginInfo.hostSwiftToolchain {
            throw fail(
                "Swift plugin built with \(toolchain), this host with \(PluginInfo.hostSwiftToolchain); Swift "
                    + "plugins must be built with the same toolchain as ipsecsvc"
            )
        }
        let info = PluginInfo(
            name: name,
            version: version.replacing("\n", with: " "),
            kind: kind,
            defaultRank: Int(t.default_rank),
            pollIntervalSeconds: t.poll_interval_seconds,
            swiftToolchain: toolchain
        )
        return LoadedPlugin(path: path, info: info, table: table)
    }

    /// Calls `open`.
    /// - Returns: the plugin's instance pointer (may be `nil`).
    func open(
        configuration: String,
        changed: ipsec_plugin_changed_fn,
        context: UnsafeMutableRawPointer?
    ) throws(PluginCallError) -> UnsafeMutableRawPointer? {
        var instance: UnsafeMutableRawPointer?
        var error = [CChar](repeating: 0, count: Int(IPSEC_PLUGIN_ERROR_CAPACITY))
        let result = configuration.withCString { config in
            error.withUnsafeMutableBufferPointer { buffer in
                table.pointee.open!(config, changed, context, &instance, buffer.baseAddress, buffer.count)
            }
        }
        guard result == IPSEC_PLUGIN_OK.rawValue else {
            throw PluginCallError(message: Self.message(error, result: result, call: "open"))
        }
        return instance
    }

    /// Calls `fetch` and copies the document, refusing one above `limit` bytes without copying it.
    func fetch(_ instance: UnsafeMutableRawPointer?, limit: Int) throws(PluginCallError) -> [UInt8] {
        var document: UnsafePointer<CChar>?
        var length = 0
        var error = [CChar](repeating: 0, count: Int(IPSEC_PLUGIN_ERROR_CAPACITY))
        let result = error.withUnsafeMutableBufferPointer { buffer in
            table.pointee.fetch!(instance, &document, &length, buffer.baseAddress, buffer.count)
        }
        guard result == IPSEC_PLUGIN_OK.rawValue else {
            throw PluginCallError(message: Self.message(error, result: result, call: "fetch"))
        }
        guard length <= limit else {
            throw PluginCallError(message: "document of \(length) bytes exceeds the limit of \(limit) bytes")
        }
        guard length == 0 || document != nil else {
            throw PluginCallError(message: "fetch returned OK with a NULL document")
        }
        guard let document else { return [] }
        return document.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// Calls `close`.
    func close(_ instance: UnsafeMutableRawPointer?) {
        table.pointee.close!(instance)
    }

    private static func message(_ buffer: [CChar], result: Int32, call: String) -> String {
        // The plugin may not have NUL-terminated it: read at most the buffer.
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let text = String(decoding: bytes, as: UTF8.self).replacing("\n", with: " ")
        if result != IPSEC_PLUGIN_ERROR.rawValue {
            return "\(call) returned unknown code \(result)" + (text.isEmpty ? "" : ": " + text)
        }
        return text.isEmpty ? "\(call) failed without a reason" : text
    }
}

/// A NUL-terminated UTF-8 string of at most `limit` bytes, else `nil`.
private func validUTF8(_ pointer: UnsafePointer<CChar>, limit: Int) -> String? {
    var count = 0
    while pointer[count] != 0 {
        count += 1
        if count > limit { return nil }
    }
    let bytes = UnsafeRawBufferPointer(start: pointer, count: count)
    return String(validating: bytes, as: UTF8.self)
}
