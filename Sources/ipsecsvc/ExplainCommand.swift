import ArgumentParser
import PolicyModel
import Providers
import ServiceHost

/// `ipsecsvc explain --src A --dst B [--protocol P] [--srcport N] [--dstport N] [--direction in|out] [--json]`:
/// every filter that matches the packet in the driver's order, the deciding one with its rule, filter list,
/// filter action, source and policy, and the verdict.
struct ExplainSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain which filter of which policy source decides a packet.",
        discussion: """
            Asks the running service (or, when it is stopped, reads the stores in the state directory). \
            Filters are listed in the order the driver consults them: most specific first (weight), then \
            block before permit before negotiate. `me` is this computer's addresses. Without --direction, \
            a packet from one of them is outbound.

            Exit codes: 0 explained, 1 failure, 2 usage error.

            Examples:
              ipsecsvc explain --src 198.18.0.10 --dst 198.18.1.1 --protocol tcp --dstport 80
              ipsecsvc explain --src 198.18.1.1 --dst 198.18.0.10 --direction in --json
            """
    )

    @Option(help: "Source IPv4 address.") var src: String
    @Option(help: "Destination IPv4 address.") var dst: String
    @Option(help: "Protocol: tcp, udp, icmp, raw, any or a number.") var `protocol`: String = "any"
    @Option(help: "Source port (TCP/UDP).") var srcport: UInt16 = 0
    @Option(help: "Destination port (TCP/UDP).") var dstport: UInt16 = 0
    @Option(help: "in or out, relative to this computer.") var direction: DirectionArgument?
    @Flag(help: "Print JSON for scripts instead of text.") var json = false
    @OptionGroup var options: HostOptions

    func validate() throws {
        if IPv4Address(src) == nil { throw ValidationError("--src: '\(src)' is not an IPv4 address.") }
        if IPv4Address(dst) == nil { throw ValidationError("--dst: '\(dst)' is not an IPv4 address.") }
        if IPProtocol.parse(`protocol`) == nil {
            throw ValidationError("--protocol: '\(`protocol`)' is not a protocol.")
        }
    }

    func run() async throws {
        let query = PacketQuery(
            source: IPv4Address(src)!,
            destination: IPv4Address(dst)!,
            ipProtocol: IPProtocol.parse(`protocol`)!,
            sourcePort: srcport,
            destinationPort: dstport,
            direction: direction?.direction
        )
        let json = self.json
        await reportingFailures("Explain") {
            let configuration = try options.load()
            let client = ControlClient(configuration: configuration)
            let explanation: Explanation
            if client.isListening() {
                explanation = try client.send(ExplainPacketCommand.self, query)
            } else {
                explanation = await OfflineEngine.make(configuration).explain(query)
            }
            print(json ? JSONOutput.text(explanation) : ExplainText.text(explanation), terminator: "")
        }
    }
}

/// `--direction in|out`.
struct DirectionArgument: ExpressibleByArgument {
    var direction: PacketDirection

    init?(argument: String) {
        guard let direction = PacketDirection(rawValue: argument.lowercased()) else { return nil }
        self.direction = direction
    }

    static var allValueStrings: [String] { PacketDirection.allCases.map(\.rawValue) }
}
