import IPsecSystem
public import PolicyModel
import Providers
import Synchronization

/// The state files in the state directory that the service host owns: the startup type
/// (`service-state`), the dynamic `set config` settings (`dynamic-settings.conf`, the file Providers'
/// `StateDirectory.dynamicSettings` names, in its `key=value` form) and the settings the last computer
/// startup applied (`boot-settings`). Every write is atomic and durable.
public struct ServiceStateStore: Sendable {
    public var directory: String

    public init(directory: String) { self.directory = directory }

    public var serviceStatePath: String { directory + "/service-state" }
    public var dynamicConfigPath: String { StateDirectory(path: directory).dynamicSettings }
    public var bootSettingsPath: String { directory + "/boot-settings" }

    /// The recorded startup type, or `nil` when `service config` never ran.
    public func startType() throws(ConfigurationError) -> StartupType? {
        guard let file = try readFile(serviceStatePath) else { return nil }
        var result: StartupType?
        for entry in file.entries {
            switch entry.key {
            case "start_type":
                guard let type = StartupType(parsing: entry.value) else {
                    throw ConfigurationError(
                        path: file.path,
                        line: entry.line,
                        message: "invalid value '\(entry.value)' for 'start_type'"
                    )
                }
                result = type
            default:
                throw ConfigurationError(path: file.path, line: entry.line, message: "unknown key '\(entry.key)'")
            }
        }
        return result
    }

    /// The startup type in force: the recorded one, else the configuration's default.
    public func effectiveStartType(_ configuration: ServiceConfiguration) throws(ConfigurationError) -> StartupType {
        try startType() ?? configuration.startType
    }

    /// Records the startup type.
    public func setStartType(_ type: StartupType) throws {
        try FileSystem.makeDirectories(directory, mode: 0o750)
        let text = KeyValueFile.render(
            comment: "Written by `ipsecsvc service config`; the startup type in force.",
            [("start_type", type.rawValue)]
        )
        try DurableFile.write(Array(text.utf8), to: serviceStatePath, permissions: 0o640)
    }

    /// Records the settings `ipsecsvc boot` applied at this computer startup, with the kernel's boot ID
    /// so that a later startup that did not run it is told apart.
    public func recordBootSettings(_ settings: DynamicSettings) throws {
        try FileSystem.makeDirectories(directory, mode: 0o750)
        var pairs = [("boot_id", Self.currentBootID())]
        for property in DynamicSettings.bootTimeProperties.sorted() {
            if let value = settings.value(of: property), value != "default" { pairs.append((property, value)) }
        }
        let text = KeyValueFile.render(
            comment: "Written by `ipsecsvc boot`: the boot-time settings it applied at this computer startup.",
            pairs
        )
        try DurableFile.write(Array(text.utf8), to: bootSettingsPath, permissions: 0o640)
    }

    /// The boot-time settings `ipsecsvc boot` applied at this computer startup; `nil` when it did not
    /// run since the computer started (no record, or one of an earlier startup).
    public func bootSettings() throws(ConfigurationError) -> DynamicSettings? {
        guard let file = try readFile(bootSettingsPath) else { return nil }
        var settings = DynamicSettings()
        var bootID: String?
        for entry in file.entries {
            if entry.key == "boot_id" {
                bootID = entry.value
                continue
            }
            do throws(DynamicSettings.SettingError) {
                guard DynamicSettings.bootTimeProperties.contains(entry.key) else {
                    throw DynamicSettings.SettingError("unknown key '\(entry.key)'")
                }
                try settings.set(property: entry.key, value: entry.value)
            } catch {
                throw ConfigurationError(path: file.path, line: entry.line, message: error.message)
            }
        }
        return bootID == Self.currentBootID() ? settings : nil
    }

    /// The kernel's ID of this computer startup (`/proc/sys/kernel/random/boot_id`).
    static func currentBootID() -> String {
        let text = (try? FileSystem.readTextIfPresent("/proc/sys/kernel/random/boot_id", limit: 64)) ?? nil
        return text?.split(separator: "\n").first.map(String.init) ?? "unknown"
    }

    /// The dynamic settings as persisted (defaults when never set), read without the store lock: for
    /// callers that already hold it or that only start the service. ``lockedDynamicSettings()`` takes it.
    public func dynamicSettings() throws(ConfigurationError) -> DynamicSettings {
        var settings = DynamicSettings()
        guard let file = try readFile(dynamicConfigPath) else { return settings }
        for entry in file.entries {
            if entry.key == "bootmode" && entry.value == "default" { continue }
            do {
                try settings.set(property: entry.key, value: entry.value)
            } catch {
                throw ConfigurationError(path: file.path, line: entry.line, message: error.message)
            }
        }
        return settings
    }

    /// The persisted dynamic settings, read under the store lock (blocking: call it off the cooperative
    /// pool).
    public func lockedDynamicSettings() throws -> DynamicSettings {
        try StateDirectoryLock.withLock(directory) { try dynamicSettings() }
    }

    /// The one way to change the persisted dynamic settings: under the store lock, re-reads
    /// `dynamic-settings.conf`, applies `change` to what it holds now and writes the result atomically,
    /// so concurrent writers (the service's `config.set`, the offline fallback) never lose each other's
    /// changes. Blocking: call it off the cooperative pool.
    /// - Parameter lockHeld: the caller already holds ``StateDirectoryLock`` (flock is not re-entrant).
    @discardableResult
    public func changeDynamicSettings(
        lockHeld: Bool = false,
        _ change: (inout DynamicSettings) throws -> Void
    ) throws -> DynamicSettings {
        try changeDynamicSettingsInOrder(lockHeld: lockHeld, change).settings
    }

    /// ``changeDynamicSettings(lockHeld:_:)`` that also returns the change's place among this
    /// process's changes (taken under the lock, so it follows the order of the writes): the running
    /// agent applies a change only if no later one reached it first
    /// (``PolicyAgent/updateSettings(_:revision:)``).
    public func changeDynamicSettingsInOrder(
        lockHeld: Bool = false,
        _ change: (inout DynamicSettings) throws -> Void
    ) throws -> (settings: DynamicSettings, revision: UInt64) {
        func update() throws -> (settings: DynamicSettings, revision: UInt64) {
            var settings = try dynamicSettings()
            try change(&settings)
            try writeDynamicSettings(settings)
            return (
                settings,
                dynamicSettingsRevision.withLock { revision in
                    revision += 1
                    return revision
                }
            )
        }
        return lockHeld ? try update() : try StateDirectoryLock.withLock(directory, update)
    }

    private func writeDynamicSettings(_ settings: DynamicSettings) throws {
        try FileSystem.makeDirectories(directory, mode: 0o750)
        let text = DynamicSettings.properties.compactMap { name -> String? in
            if name == "bootmode" && settings.bootMode == nil { return nil }
            return settings.value(of: name).map { "\(name)=\($0)\n" }
        }.joined()
        try DurableFile.write(Array(text.utf8), to: dynamicConfigPath, permissions: 0o640)
    }

    private func readFile(_ path: String) throws(ConfigurationError) -> KeyValueFile? {
        let text: String?
        do {
            text = try FileSystem.readTextIfPresent(path, limit: 1 << 20)
        } catch {
            throw ConfigurationError(path: path, line: 0, message: "cannot be read: \(error)")
        }
        guard let text else { return nil }
        return try KeyValueFile(path: path, text: text)
    }
}

/// Counts this process's writes of the dynamic settings (see
/// ``ServiceStateStore/changeDynamicSettingsInOrder(lockHeld:_:)``).
private let dynamicSettingsRevision = Mutex<UInt64>(0)
