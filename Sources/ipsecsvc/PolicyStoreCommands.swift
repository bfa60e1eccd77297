import ArgumentParser
import PolicyFormats
import PolicyModel
import Providers
import ServiceHost

/// `--store local|persistent`.
struct StoreArgument: ExpressibleByArgument {
    var store: EditableStore

    init?(argument: String) {
        guard let store = EditableStore(rawValue: argument.lowercased()) else { return nil }
        self.store = store
    }

    init(_ store: EditableStore) {
        self.store = store
    }

    static var allValueStrings: [String] { EditableStore.allCases.map(\.rawValue) }
    var defaultValueDescription: String { store.rawValue }
}

/// `ipsecsvc policy import FILE [--format F] [--store local|persistent] [--assign NAME]`.
///
/// Through the running service when it answers (a local import applies at once), else directly on the
/// state directory under its lock. Either way an invalid file never changes a store.
struct PolicyImportSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Add the policies of a file to the local or persistent store.",
        discussion: """
            Policies, filter lists and filter actions are added; those with a GUID already in the store \
            are replaced. --assign makes one policy the store's assigned policy (at most one is). A local \
            policy applies at once when no directory policy does; a persistent one at the next service start.

            Exit codes: 0 imported, 1 invalid file or store, 2 usage error.

            Examples:
              ipsecsvc policy import site.xml --assign "Secure Servers"
              ipsecsvc policy import baseline.xml --store persistent --assign Baseline
            """
    )

    @Argument(help: "The policy file to import (`-` reads standard input).")
    var file: String

    @Option(help: "Read the file in this format instead of deciding by extension and content.")
    var format: FormatArgument?

    @Option(help: "The store to import into: local or persistent.")
    var store = StoreArgument(.local)

    @Option(help: "Assign this policy (by name) in the store.")
    var assign: String?

    @Flag(help: "Move a broken store aside (to STORE.reset-N) first, then import into an empty store.")
    var reset = false

    @OptionGroup var options: HostOptions

    func run() async throws {
        guard let imported = readPolicyFile(file, format: format?.format) else { throw CommandExit.invalidInput }
        guard reportProblems(imported, file: file) else {
            standardError("\(file): not imported: the policy has problems (see above)")
            throw CommandExit.invalidInput
        }
        let store = self.store.store
        let assign = self.assign
        let reset = self.reset
        await reportingFailures("ImportPolicy") {
            let configuration = try options.load()
            let client = ControlClient(configuration: configuration)
            let written: PolicyStore
            if reset {
                // The reset itself needs no service: the broken file is only moved aside.
                do throws(StoreOperations.OperationError) {
                    let state = StateDirectory(path: configuration.stateDirectory)
                    if let aside = try StoreOperations.reset(store, state: state) {
                        standardOutput("Moved the old \(store.rawValue) store to \(aside).")
                    }
                } catch {
                    throw CommandFailure.message("ipsecsvc: \(error.description)")
                }
            }
            if try client.isListening() {
                let request = PolicyImportCommand.Request(store: store, policies: imported, assign: assign)
                written = try client.send(PolicyImportCommand.self, request).store
            } else {
                do throws(StoreOperations.OperationError) {
                    written = try StoreOperations.importPolicies(
                        imported,
                        into: store,
                        assign: assign,
                        state: StateDirectory(path: configuration.stateDirectory),
                        examples: configuration.examples
                    )
                } catch {
                    throw CommandFailure.message("ipsecsvc: \(error.description)")
                }
            }
            var lines = ["Imported \(imported.countSummary) into the \(store.rawValue) store."]
            if let assigned = written.assignedPolicy { lines.append("Assigned policy: \(assigned.name).") }
            if store == .persistent { lines.append("Persistent policy takes effect at the next service start.") }
            standardOutput(lines.joined(separator: "\n"))
        }
    }
}

/// `ipsecsvc policy export FILE [--format xml|reg] [--store local|persistent]`, and
/// `ipsecsvc policy export --from-directory FILE [--format ldif|dsml]`.
struct PolicyExportSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the content of the local or persistent store, or the directory's view, to a file.",
        discussion: """
            --from-directory reads the directory now, as the service does (the directory settings of \
            ipsecsvc.conf: a domain controller over LDAP or a snapshot), and writes every object read \
            (computer, OUs, domain, site, GPOs, IPsec assignments, the assigned policy and its objects) as \
            LDIF, which 'directory = snapshot' loads: a support case reproduced offline.

            Exit codes: 0 written, 1 unreadable store or directory, or unwritable file, 2 usage error.

            Examples:
              ipsecsvc policy export local-backup.xml
              ipsecsvc policy export - --store persistent
              ipsecsvc policy export --from-directory case-1234.ldif
            """
    )

    @Flag(
        name: .customLong("from-directory"),
        help: "Write the objects the directory source reads now (LDIF or DSML), instead of a store."
    )
    var fromDirectory = false

    @Argument(help: "The file to write (`-` writes standard output).")
    var file: String

    @Option(help: "Write this format instead of deciding by the file's extension.")
    var format: FormatArgument?

    @Option(help: "The store to export: local or persistent.")
    var store = StoreArgument(.local)

    @OptionGroup var options: HostOptions

    func run() async throws {
        if fromDirectory {
            try await DirectoryExport.run(file: file, format: format?.format, options: options)
            return
        }
        let store = self.store.store
        let file = self.file
        // Standard output has no extension to go by: the native format.
        let format = self.format?.format ?? (file == "-" ? .xml : nil)
        await reportingFailures("ExportPolicy") {
            let configuration = try options.load()
            let client = ControlClient(configuration: configuration)
            let content: PolicyStore
            if try client.isListening() {
                content = try client.send(PolicyExportCommand.self, PolicyExportCommand.Request(store: store))
            } else {
                do throws(StoreOperations.OperationError) {
                    content = try StoreOperations.export(
                        store,
                        state: StateDirectory(path: configuration.stateDirectory)
                    )
                } catch {
                    throw CommandFailure.message("ipsecsvc: \(error.description)")
                }
            }
            do {
                try PolicyFiles.all.write(content, to: file, format: format)
            } catch {
                throw CommandFailure.message("ipsecsvc: \(error)")
            }
        }
    }
}
