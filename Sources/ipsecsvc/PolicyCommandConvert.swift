import ArgumentParser
import PolicyFormats
import PolicyModel

/// `ipsecsvc policy convert IN OUT`: read one format, check, write another (or the same, normalized).
struct PolicyConvertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a policy file to another format or rewrite it in normal form.",
        discussion: """
            Reads IN, checks it as `policy validate` does, and writes OUT. Each format follows from \
            the file's extension (and IN's content); --from and --format override them. OUT is \
            replaced in one step (a temporary file renamed over it), never left half written. \
            `-` as OUT writes to standard output, in IN's format unless --format says otherwise.

            An invalid policy is not written unless --allow-invalid is given; its problems are \
            printed either way.

            Exit codes: 0 written, 1 invalid or unreadable input or OUT not writable, 2 usage error.

            Windows formats: .reg (a registry export of the policy stores; --registry-store picks \
            Local, Persistent or Cache), .ldif and .dsml (directory dumps of the IP Security \
            container; writing them needs --base-dn). A console .ipsec export is not read: export \
            the registry key instead (reg export HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\IPSec ipsec.reg).

            Examples:
              ipsecsvc policy convert site.xml normalized.xml
              ipsecsvc policy convert --format xml exported.txt - | less
              ipsecsvc policy convert ipsec.reg site.xml
              ipsecsvc policy convert site.xml ipsec.ldif --base-dn DC=example,DC=com
            """
    )

    @Argument(help: "The policy file to read (`-` reads standard input).")
    var input: String

    @Argument(help: "The file to write (`-` writes standard output).")
    var output: String

    @Option(help: "Read IN in this format.")
    var from: FormatArgument?

    @Option(help: "Write OUT in this format.")
    var format: FormatArgument?

    @Flag(help: "Write OUT even when the policy has problems.")
    var allowInvalid = false

    @Option(help: "LDIF/DSML output: the domain (DC=example,DC=com) or IP Security container to write under.")
    var baseDN: String?

    @Option(help: "The .reg store to read from IN or write to OUT (local, persistent, cache).")
    var registryStore: RegistryStoreArgument?

    func validate() throws {
        // Standard output has no name to tell a format by; it then gets IN's format.
        guard output != "-" || format != nil else { return }
        let target = format?.format ?? PolicyFiles.all.format(forPath: output)
        guard let target else {
            throw ValidationError("Cannot tell the format of '\(output)' from its name; give --format.")
        }
        if [.ldif, .dsml].contains(target), baseDN == nil {
            throw ValidationError(
                "A directory dump needs the domain it belongs to: give --base-dn (e.g. DC=example,DC=com)."
            )
        }
    }

    func run() async throws {
        let options = PolicyFileOptions(
            registryStore: registryStore?.kind,
            baseDN: baseDN,
            report: { standardError($0) }
        )
        let read: (store: PolicyStore, format: PolicyFileFormat)
        do {
            read = try PolicyFiles.all.readDetectingFormat(path: input, format: from?.format, options: options)
        } catch {
            standardError(error.description)
            throw CommandExit.invalidInput
        }
        let valid = reportProblems(read.store, file: input == "-" ? "<stdin>" : input)
        if !valid && !allowInvalid {
            standardError("\(output): not written: the policy has problems (see above; --allow-invalid writes anyway)")
            throw CommandExit.invalidInput
        }
        let target = format?.format ?? PolicyFiles.all.format(forPath: output) ?? read.format
        do {
            try PolicyFiles.all.write(read.store, to: output, format: target, options: options)
        } catch {
            standardError(error.description)
            throw CommandExit.invalidInput
        }
    }
}
