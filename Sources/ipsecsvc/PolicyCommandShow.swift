import ArgumentParser
import PolicyFormats
import PolicyModel

/// `ipsecsvc policy show FILE [--json]`: a readable or JSON listing of a policy file.
///
/// FILE is optional on purpose: `policy show --effective` (the policy in effect, from the service)
/// joins later without changing how `policy show FILE` is used.
struct PolicyShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "List the policies, filter lists and filter actions of a policy file.",
        discussion: """
            Prints every policy with its main-mode settings and rules (filter lists, filter action, \
            authentication, tunnel, connection type), every filter list with its filters (addresses, \
            masks, protocol, ports, mirroring, weight) and every filter action with its security \
            methods, in the spirit of `netsh ipsec static show all`.

            --json prints a stable JSON document instead (described in docs/cli.md): keys only get \
            added, never renamed, while formatVersion stays the same.

            The file is not validated; use `ipsecsvc policy validate` for that.

            Exit codes: 0 shown, 1 unreadable or malformed file, 2 usage error.

            Examples:
              ipsecsvc policy show policies-xml/secure-server-require-security.xml
              ipsecsvc policy show site.xml --json | jq '.filterLists[].filters[].weight'
            """
    )

    @Argument(help: "The policy file to show (`-` reads standard input).")
    var file: String?

    @Flag(help: "Print JSON for scripts instead of text.")
    var json = false

    @Option(help: "Read the file in this format instead of deciding by extension and content.")
    var format: FormatArgument?

    @Option(help: "The store of a .reg file to show (local, persistent, cache).")
    var registryStore: RegistryStoreArgument?

    @Flag(help: "Show the effective policy of all sources, with provenance, instead of a file.")
    var effective = false

    @OptionGroup var hostOptions: HostOptions

    func validate() throws {
        if file == nil && !effective { throw ValidationError("Give the policy file to show.") }
        if file != nil && effective { throw ValidationError("--effective shows the stores; give no file.") }
    }

    func run() async throws {
        if effective {
            await EffectivePolicyDisplay.run(json: json, options: hostOptions)
            return
        }
        guard let file, let store = readPolicyFile(file, format: format?.format, registryStore: registryStore?.kind)
        else {
            throw CommandExit.invalidInput
        }
        standardOutput(json ? PolicyListingJSON.text(store) : PolicyListing.text(store), terminator: "")
    }
}
