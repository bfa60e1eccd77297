import ArgumentParser
import Netsh
import PolicyFormats
import PolicyModel

#if canImport(Glibc)
import Glibc
#endif

/// The exit codes of every `ipsecsvc` command (DESIGN.md §5, docs/cli.md).
enum CommandExit {
    /// The input (a file, a policy) is invalid or could not be read.
    static let invalidInput = ExitCode(1)
    /// The command line itself is wrong. ArgumentParser would use `EX_USAGE` (64).
    static let usage = ExitCode(2)

    /// Ends the process for an error thrown while parsing or running a command: usage errors exit
    /// 2 with ArgumentParser's message, everything else exits as ArgumentParser decides.
    static func exit(for error: any Error) -> Never {
        guard IPsecSvc.exitCode(for: error) == .validationFailure else { IPsecSvc.exit(withError: error) }
        standardError(IPsecSvc.fullMessage(for: error))
        IPsecSvc.exit(withError: usage)
    }
}

/// The policy file formats this program reads and writes: PolicyFormats' own and netsh scripts.
enum PolicyFiles {
    static let all = PolicyFile.builtIn.adding(NetshScriptCodec())
}

/// `--format NAME`: a ``PolicyFileFormat`` on the command line; the help lists every format.
struct FormatArgument: ExpressibleByArgument {
    var format: PolicyFileFormat

    init?(argument: String) {
        guard let format = PolicyFiles.all.format(named: argument) else { return nil }
        self.format = format
    }

    static var allValueStrings: [String] { PolicyFiles.all.formats.map(\.rawValue) }
}

/// `--registry-store local|persistent|cache`: which store of a `.reg` file to read or write.
struct RegistryStoreArgument: ExpressibleByArgument {
    var kind: RegistryStoreKind

    init?(argument: String) {
        guard let kind = RegistryStoreKind.allCases.first(where: { $0.rawValue.lowercased() == argument.lowercased() })
        else { return nil }
        self.kind = kind
    }

    static var allValueStrings: [String] { RegistryStoreKind.allCases.map { $0.rawValue.lowercased() } }
}

extension PolicyStore {
    /// `2 policies, 3 filter lists, 1 filter action`.
    var countSummary: String {
        [
            plural(policies.count, "policy", "policies"),
            plural(filterLists.count, "filter list", "filter lists"),
            plural(filterActions.count, "filter action", "filter actions"),
        ].joined(separator: ", ")
    }

    private func plural(_ count: Int, _ one: String, _ many: String) -> String {
        "\(count) \(count == 1 ? one : many)"
    }
}

/// Reads a policy file, printing a reader error as one line; `nil` when it could not be read.
/// Notes about what a Windows file held besides the store (service settings, GPO assignments) go to
/// standard error.
func readPolicyFile(_ path: String, format: PolicyFileFormat?, registryStore: RegistryStoreKind? = nil) -> PolicyStore?
{
    do {
        let options = PolicyFileOptions(registryStore: registryStore, report: { standardError($0) })
        return try PolicyFiles.all.read(path: path, format: format, options: options)
    } catch {
        standardError(error.description)
        return nil
    }
}

/// Prints every validation problem as `FILE: location: message`; returns whether there were none.
func reportProblems(_ store: PolicyStore, file: String) -> Bool {
    let problems = store.validate()
    for problem in problems {
        standardError("\(file): \(problem.location): \(problem.message)")
    }
    return problems.isEmpty
}
