import ArgumentParser
import IPsecSystem
import Plugins
import PolicyModel
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `ipsecsvc plugin-host`: serves one plugin for the service (internal), or checks one (`--check`).
///
/// The service starts `ipsecsvc plugin-host --fd 3 … PATH` for every plugin that runs isolated, with a
/// connected socket as descriptor 3; a plugin that crashes or hangs takes only this process down.
/// `--check` is for plugin authors: it runs PATH exactly as the service would, in its own plugin host,
/// and reports what the service would see.
struct PluginHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-host",
        abstract: "Serve a policy-source plugin to the service, or check one (--check).",
        discussion: """
            ipsecsvc plugin-host --check PATH [--option KEY=VALUE ...] loads the plugin in a separate \
            plugin host, opens it with the given options, fetches one document, validates it like an \
            import and prints what the service would see; the exit code is 0 when it is usable. \
            --check --config FILE checks a plugins.d file instead (its path, options and limits apply). \
            Without --check the command serves the plugin on the socket --fd (the service does this).

            Examples:
              ipsecsvc plugin-host --check /usr/lib/ipsecsvc/plugins/libxmldir.so --option directory=/etc/ipsec-xml
              ipsecsvc plugin-host --check --config /etc/ipsecsvc/plugins.d/xmldir.conf --print-document
            """
    )

    @Flag(help: "Load, open, fetch and validate once; print a report.")
    var check = false

    @Option(name: .customLong("option"), help: "With --check: an option KEY=VALUE for the plugin's open (repeatable).")
    var options: [String] = []

    @Option(help: "With --check: a plugins.d file to check (PATH is then optional).")
    var config: String?

    @Flag(help: "With --check: also print the last document the plugin returned (valid or not).")
    var printDocument = false

    @Option(help: "With --check: seconds to wait for each step.")
    var timeout: Double = 10

    @Option(help: ArgumentHelp("The socket descriptor to serve on.", visibility: .hidden))
    var fd: Int32 = 3

    @Option(help: "Largest document accepted from the plugin, in bytes.")
    var maxDocumentSize: Int = PluginConfiguration.defaultMaxDocumentSize

    @Option(help: "Address-space limit of the plugin host in bytes (0: none).")
    var memoryLimit: Int = PluginConfiguration.defaultMemoryLimit

    @Argument(help: "The plugin's shared object.")
    var path: String?

    func run() async throws {
        if check {
            try await runCheck()
            return
        }
        guard let path else { throw ValidationError("missing the plugin's path") }
        // The plugin's calls block: they run on a thread of their own, never on the cooperative pool.
        // The address-space limit is set once that thread exists, so it cannot keep the host from starting.
        let (fd, maxDocumentSize, memoryLimit) = (fd, maxDocumentSize, memoryLimit)
        do {
            let code = try await DedicatedThread.run(name: "ipsecsvc-plugin") {
                PluginHostServer.limitAddressSpace(bytes: memoryLimit)
                return PluginHostServer.serve(fd: fd, pluginPath: path, maxDocumentSize: maxDocumentSize)
            }
            throw ExitCode(code)
        } catch let error as SystemError {
            printError("cannot start the serving thread: \(error)")
            throw ExitCode(3)
        }
    }

    private func runCheck() async throws {
        var configuration: PluginConfiguration
        if let config {
            let text = try readText(config)
            do {
                configuration = try PluginConfiguration.parse(text, file: config)
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
            if let path { configuration.path = absolute(path) }
        } else {
            guard let path else { throw ValidationError("--check needs the plugin's path or --config FILE") }
            var name = String(path.split(separator: "/").last ?? "plugin")
            if name.hasPrefix("lib") { name.removeFirst(3) }
            if let dot = name.firstIndex(of: ".") { name = String(name[..<dot]) }
            if !PluginInfo.isValidName(name) { name = "check" }
            configuration = PluginConfiguration(name: name, file: "<check>", path: absolute(path))
            for option in options {
                guard let equals = option.firstIndex(of: "="), equals != option.startIndex else {
                    throw ValidationError("--option must be KEY=VALUE, not \"\(option)\"")
                }
                configuration.options.append(
                    .init(key: String(option[..<equals]), value: String(option[option.index(after: equals)...]))
                )
            }
            configuration.maxDocumentSize = maxDocumentSize
            configuration.memoryLimit = memoryLimit
        }
        guard let step = PluginConfiguration.parseSeconds(String(timeout)), step > .zero else {
            throw ValidationError("--timeout must be a positive number of seconds")
        }
        if config == nil { configuration.timeout = step }
        configuration.enabled = true

        // Keeps the raw bytes for --print-document, then validates as the service does.
        let lastDocument = Mutex<[UInt8]?>(nil)
        let validator = PluginDocumentValidator { bytes, source in
            lastDocument.withLock { $0 = bytes }
            return try PluginDocumentValidator.native.validate(bytes, source)
        }
        let supervisor = PluginSupervisor(configuration: configuration, validator: validator)
        // Its background work, a child of this command until the stop below ends it.
        async let supervising: Void = supervisor.run()
        let updates = await supervisor.updates()
        await supervisor.start()
        var outcome: PluginSourceState?
        for await state in updates {
            switch state.health {
            case .running, .failed:
                outcome = state
            case .starting, .stopped:
                continue
            }
            break
        }
        await supervisor.stop()
        await supervising
        guard let outcome else {
            printError("\(configuration.path): the plugin host ended without an answer")
            throw ExitCode(1)
        }
        report(outcome, configuration: configuration)
        if printDocument, let bytes = lastDocument.withLock({ $0 }) {
            standardOutput("--- document (\(bytes.count) bytes) ---")
            standardOutput(String(decoding: bytes, as: UTF8.self))
        }
        if let reason = outcome.failureReason {
            printError("\(configuration.path): \(reason)")
            throw ExitCode(1)
        }
    }

    private func report(_ state: PluginSourceState, configuration: PluginConfiguration) {
        standardOutput("plugin:    \(configuration.path)")
        standardOutput("source:    \(configuration.sourceName)")
        standardOutput("host ABI:  \(PluginInfo.hostABIVersion), \(PluginInfo.hostSwiftToolchain)")
        if let info = state.info {
            standardOutput("name:      \(info.name) \(info.version)")
            standardOutput(
                "kind:      \(info.kind.rawValue), rank \(state.rank ?? info.defaultRank) (default \(info.defaultRank))"
            )
            let poll =
                configuration.pollInterval.map { "\($0)" }
                ?? (info.pollIntervalSeconds == 0 ? "change callback only" : "every \(info.pollIntervalSeconds) s")
            standardOutput("polling:   \(poll)")
            if let toolchain = info.swiftToolchain { standardOutput("toolchain: \(toolchain)") }
        }
        if let store = state.store, state.failureReason == nil {
            standardOutput("document:  \(state.documentSize ?? 0) bytes, valid")
            for policy in store.policies {
                let assigned = policy.id == store.assignedPolicyID ? " (assigned)" : ""
                standardOutput("policy:    \"\(policy.name)\" \(policy.id)\(assigned), \(policy.rules.count) rules")
            }
            standardOutput(
                "lists:     \(store.filterLists.count) filter lists, \(store.filterActions.count) filter actions"
            )
            standardOutput("result:    OK")
        } else {
            standardOutput("result:    FAILED: \(state.failureReason ?? "unknown")")
        }
    }

    private func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let path = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "./" + path }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
    }

    private func readText(_ file: String) throws -> String {
        do {
            return try FileSystem.readText(file, limit: 1 << 20)
        } catch {
            printError("\(file): cannot be read: \(error.operation): \(error.detail ?? error.errno.description)")
            throw ExitCode(1)
        }
    }

    private func printError(_ message: String) {
        standardError("ipsecsvc plugin-host: " + message)
    }
}
