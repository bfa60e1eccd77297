import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// One plugin's configuration: a file in `/etc/ipsecsvc/plugins.d/` (docs/plugins.md, "Configuration").
///
/// ```
/// # /etc/ipsecsvc/plugins.d/xmldir.conf
/// # a relative path is under /usr/lib/ipsecsvc/plugins/
/// path = libxmldir.so
/// enabled = yes
/// rank = 150
/// option.directory = /etc/ipsecsvc/xmldir
/// ```
///
/// Plugins are opt-in: a file without `enabled = yes` loads nothing.
public struct PluginConfiguration: Hashable, Sendable {
    /// How a plugin runs.
    public enum Isolation: String, Hashable, Sendable, CaseIterable {
        /// In a child `ipsecsvc plugin-host` process: a crash or hang cannot take the service down.
        case process
        /// Inside the service's process: only when a file asks for it; a crash there stops the service.
        case inProcess = "in-process"
    }

    /// The source's name without the `plugin:` prefix: `name =`, else the file's base name.
    public var name: String
    /// The file it came from, for messages (`<check>` when built by `plugin-host --check`).
    public var file: String
    /// The shared object, absolute.
    public var path: String
    public var enabled: Bool
    /// Overrides the plugin's default rank.
    public var rank: Int?
    public var isolation: Isolation
    /// Longest wait for the plugin to load, open or answer one fetch.
    public var timeout: Duration
    /// Largest document accepted from the plugin, in bytes.
    public var maxDocumentSize: Int
    /// Address-space limit of the plugin-host process in bytes; 0 for none. Ignored in-process.
    public var memoryLimit: Int
    /// Overrides the plugin's poll interval (0 turns polling off).
    public var pollInterval: Duration?
    /// First delay before restarting a failed plugin; doubles after every failure up to ``restartDelayMax``.
    public var restartDelay: Duration
    public var restartDelayMax: Duration
    /// The `option.KEY = VALUE` lines, prefix removed, in file order: what the plugin's `open` receives.
    public var options: [Option]

    /// One `option.` line.
    public struct Option: Hashable, Sendable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Where relative `path =` values point.
    public static let defaultPluginDirectory = "/usr/lib/ipsecsvc/plugins"
    /// Where the configuration files live.
    public static let defaultConfigurationDirectory = "/etc/ipsecsvc/plugins.d"
    public static let defaultTimeout: Duration = .seconds(10)
    public static let defaultMaxDocumentSize = 16 << 20
    public static let defaultMemoryLimit = 1 << 30
    public static let defaultRestartDelay: Duration = .seconds(1)
    public static let defaultRestartDelayMax: Duration = .seconds(300)

    public init(
        name: String,
        file: String = "<none>",
        path: String,
        enabled: Bool = true,
        rank: Int? = nil,
        isolation: Isolation = .process,
        timeout: Duration = PluginConfiguration.defaultTimeout,
        maxDocumentSize: Int = PluginConfiguration.defaultMaxDocumentSize,
        memoryLimit: Int = PluginConfiguration.defaultMemoryLimit,
        pollInterval: Duration? = nil,
        restartDelay: Duration = PluginConfiguration.defaultRestartDelay,
        restartDelayMax: Duration = PluginConfiguration.defaultRestartDelayMax,
        options: [Option] = []
    ) {
        self.name = name
        self.file = file
        self.path = path
        self.enabled = enabled
        self.rank = rank
        self.isolation = isolation
        self.timeout = timeout
        self.maxDocumentSize = maxDocumentSize
        self.memoryLimit = memoryLimit
        self.pollInterval = pollInterval
        self.restartDelay = restartDelay
        self.restartDelayMax = restartDelayMax
        self.options = options
    }

    /// The string the plugin's `open` receives: `key=value` lines joined by newlines.
    public var configurationString: String {
        options.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
    }

    /// The provider name used in status, provenance and the journal.
    public var sourceName: String { "plugin:" + name }

    /// Parses one configuration file's text.
    /// - Parameters:
    ///   - text: the file's contents.
    ///   - file: the file's path, for messages; its base name (without `.conf`) is the default name.
    ///   - pluginDirectory: where a relative `path` points.
    /// - Throws: ``PluginConfigurationError`` naming the file and line, for unknown keys, bad values,
    ///   duplicates and a missing `path`.
    public static func parse(
        _ text: String,
        file: String,
        pluginDirectory: String = PluginConfiguration.defaultPluginDirectory
    ) throws(PluginConfigurationError) -> PluginConfiguration {
        var base = String(file.split(separator: "/").last ?? Substring(file))
        if base.hasSuffix(".conf") { base.removeLast(5) }
        var configuration = PluginConfiguration(name: base, file: file, path: "", enabled: false)
        var seen: [String: Int] = [:]
        var pathLine: Int?

        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            func fail(_ message: String) -> PluginConfigurationError {
                PluginConfigurationError(file: file, line: lineNumber, message: message)
            }
            let line = rawLine.trimmed
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw fail("expected \"key = value\", found \"\(line)\"")
            }
            let key = line[..<equals].trimmed
            let value = line[line.index(after: equals)...].trimmed
            guard !key.isEmpty else { throw fail("missing key before \"=\"") }
            if let previous = seen[key] {
                throw fail("duplicate key \"\(key)\" (first set on line \(previous))")
            }
            seen[key] = lineNumber

            switch key {
            case "name":
                guard PluginInfo.isValidName(value) else {
                    throw fail("name \"\(value)\" must be 1-64 characters of A-Z a-z 0-9 . _ -")
                }
                configuration.name = value
            case "path":
                guard !value.isEmpty else { throw fail("path is empty") }
                configuration.path = value.hasPrefix("/") ? value : pluginDirectory + "/" + value
                pathLine = lineNumber
            case "enabled":
                guard let flag = parseBool(value) else { throw fail("enabled must be yes or no, not \"\(value)\"") }
                configuration.enabled = flag
            case "rank":
                guard let rank = Int(value), (-1_000_000...1_000_000).contains(rank) else {
                    throw fail("rank must be an integer between -1000000 and 1000000, not \"\(value)\"")
                }
                configuration.rank = rank
            case "isolation":
                guard let isolation = Isolation(rawValue: value) else {
                    throw fail("isolation must be process or in-process, not \"\(value)\"")
                }
                configuration.isolation = isolation
            case "timeout":
                guard let duration = parseSeconds(value), duration > .zero else {
                    throw fail("timeout must be a positive number of seconds, not \"\(value)\"")
                }
                configuration.timeout = duration
            case "poll-interval":
                guard let duration = parseSeconds(value) else {
                    throw fail("poll-interval must be a number of seconds (0 turns polling off), not \"\(value)\"")
                }
                configuration.pollInterval = duration
            case "restart-delay":
                guard let duration = parseSeconds(value), duration > .zero else {
                    throw fail("restart-delay must be a positive number of seconds, not \"\(value)\"")
                }
                configuration.restartDelay = duration
            case "restart-delay-max":
                guard let duration = parseSeconds(value), duration > .zero else {
                    throw fail("restart-delay-max must be a positive number of seconds, not \"\(value)\"")
                }
                configuration.restartDelayMax = duration
            case "max-document-size":
                guard let size = parseSize(value), size > 0 else {
                    throw fail("max-document-size must be a positive size (bytes, or with K, M, G), not \"\(value)\"")
                }
                configuration.maxDocumentSize = size
            case "memory-limit":
                guard let size = parseSize(value) else {
                    throw fail("memory-limit must be a size (bytes, or with K, M, G; 0 for none), not \"\(value)\"")
                }
                configuration.memoryLimit = size
            default:
                guard key.hasPrefix("option."), key.count > "option.".count else {
                    throw fail(
                        "unknown key \"\(key)\" (known: name, path, enabled, rank, isolation, timeout, "
                            + "poll-interval, restart-delay, restart-delay-max, max-document-size, memory-limit, "
                            + "option.NAME)"
                    )
                }
                let optionKey = String(key.dropFirst("option.".count))
                guard !optionKey.contains("\n"), !value.contains("\n") else { throw fail("option spans lines") }
                configuration.options.append(Option(key: optionKey, value: value))
            }
        }
        guard pathLine != nil else {
            throw PluginConfigurationError(file: file, line: nil, message: "no \"path =\" naming the shared object")
        }
        if configuration.restartDelayMax < configuration.restartDelay {
            configuration.restartDelayMax = configuration.restartDelay
        }
        return configuration
    }

    private static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "yes", "true", "on", "1": true
        case "no", "false", "off", "0": false
        default: nil
        }
    }

    /// Seconds with up to three decimals (`2`, `0.5`).
    public static func parseSeconds(_ text: String) -> Duration? {
        guard let value = Double(text), value.isFinite, value >= 0, value <= 31_536_000 else { return nil }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    /// Bytes, or a number with a K, M or G (binary) suffix.
    static func parseSize(_ text: String) -> Int? {
        var digits = Substring(text)
        var multiplier = 1
        switch digits.last?.uppercased() {
        case "K":
            multiplier = 1 << 10
        case "M":
            multiplier = 1 << 20
        case "G":
            multiplier = 1 << 30
        default:
            break
        }
        if multiplier != 1 { digits = digits.dropLast() }
        guard let number = Int(digits), number >= 0, number <= (1 << 40) / multiplier else { return nil }
        return number * multiplier
    }
}

/// A problem in a plugins.d file: the file, the line (when one is to blame) and what is wrong.
public struct PluginConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// The plugins.d directory: every `*.conf` file in name order.
public enum PluginConfigurationDirectory {
    /// Reads every `*.conf` file of `directory`. A bad file is reported and skipped; the others load.
    /// A missing directory means no plugins.
    /// - Returns: the configurations (enabled or not) and the problems found, both in file-name order.
    public static func load(
        _ directory: String = PluginConfiguration.defaultConfigurationDirectory,
        pluginDirectory: String = PluginConfiguration.defaultPluginDirectory
    ) -> (configurations: [PluginConfiguration], errors: [PluginConfigurationError]) {
        guard let dir = opendir(directory) else { return ([], []) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".conf"), !name.hasPrefix(".") { names.append(name) }
        }
        closedir(dir)

        var configurations: [PluginConfiguration] = []
        var errors: [PluginConfigurationError] = []
        var byName: [String: String] = [:]
        for name in names.sorted() {
            let file = directory + "/" + name
            do {
                let bytes: [UInt8]
                do {
                    bytes = try FileSystem.read(file, limit: 1 << 20)
                } catch {
                    throw PluginConfigurationError(
                        file: file,
                        line: nil,
                        message: "cannot be read: \(error.operation): \(error.detail ?? error.errno.description)"
                    )
                }
                let configuration = try PluginConfiguration.parse(
                    String(decoding: bytes, as: UTF8.self),
                    file: file,
                    pluginDirectory: pluginDirectory
                )
                if let other = byName[configuration.name] {
                    throw PluginConfigurationError(
                        file: file,
                        line: nil,
                        message: "plugin name \"\(configuration.name)\" is already used by \(other)"
                    )
                }
                byName[configuration.name] = file
                configurations.append(configuration)
            } catch let error as PluginConfigurationError {
                errors.append(error)
            } catch {
                errors.append(PluginConfigurationError(file: file, line: nil, message: "\(error)"))
            }
        }
        return (configurations, errors)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (and a trailing carriage return).
    var trimmed: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
