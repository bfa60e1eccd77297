import ArgumentParser
import DecisionCore
import PolicyModel
import Providers
import ServiceHost

/// `ipsecsvc explain --src A --dst B [--protocol P] [--srcport N] [--dstport N] [--direction in|out]
/// [--interface NAME] [--protected] [--mode M] [--json]`: what the driver does with the packet — decided by
/// the driver's own decision (mode, exemptions, connection types, filters by weight) — every filter that
/// matches it in the driver's order, the deciding one with its rule, filter list, filter action, source and
/// policy, and the rules skipped for their connection type.
struct ExplainSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract:
            "Explain what the IPsec driver does with a packet and which filter of which policy source decides it.",
        discussion: """
            Decides the packet with the driver's own decision: the driver mode, the default exemptions \
            (ipsecexempt, IKE), the connection type of each rule, the filters in the order the driver consults \
            them (most specific first, then block before permit before negotiate). With the service running, \
            the mode, settings and host information are the running driver's; when it is stopped, explain reads \
            the stores in the state directory and says what it assumed (operational mode secure, the saved \
            settings). `me` is this computer's addresses (interfaces that are up, not loopback). Without \
            --direction, a packet from one of them is outbound. Without --interface, a LAN interface is assumed.

            Exit codes: 0 explained, 1 failure, 2 usage error.

            Examples:
              ipsecsvc explain --src 198.18.0.10 --dst 198.18.1.1 --protocol tcp --dstport 80
              ipsecsvc explain --src 198.18.1.1 --dst 198.18.0.10 --direction in --interface ppp0 --json
              ipsecsvc explain --src 198.18.0.10 --dst 198.18.1.1 --mode startup-stateful
            """
    )

    @Option(help: "Source IPv4 address.") var src: String
    @Option(help: "Destination IPv4 address.") var dst: String
    @Option(help: "Protocol: tcp, udp, icmp, raw, any or a number.") var `protocol`: String = "any"
    @Option(help: "Source port (TCP/UDP).") var srcport: UInt16 = 0
    @Option(help: "Destination port (TCP/UDP).") var dstport: UInt16 = 0
    @Option(help: "in or out, relative to this computer.") var direction: DirectionArgument?
    @Option(help: "The interface the packet arrives on or leaves through (its connection type selects the rules).")
    var interface: String?
    @Flag(help: "Assume IPsec protects the packet (negotiate filters let it pass).") var protected = false
    @Option(
        help: "Decide in this driver mode: secure, permit, block, startup-permit, startup-stateful or startup-block."
    )
    var mode: ModeArgument?
    @Flag(help: "Print JSON for scripts instead of text.") var json = false
    @OptionGroup var options: HostOptions

    func validate() throws {
        if IPv4Address(src) == nil { throw ValidationError("--src: '\(src)' is not an IPv4 address.") }
        if IPv4Address(dst) == nil { throw ValidationError("--dst: '\(dst)' is not an IPv4 address.") }
        if IPProtocol.parse(`protocol`) == nil {
            throw ValidationError("--protocol: '\(`protocol`)' is not a protocol.")
        }
        if let interface, interface.isEmpty || interface.contains("/") || interface.utf8.count > 15 {
            throw ValidationError("--interface: '\(interface)' is not an interface name.")
        }
    }

    func run() async throws {
        let query = PacketQuery(
            source: IPv4Address(src)!,
            destination: IPv4Address(dst)!,
            ipProtocol: IPProtocol.parse(`protocol`)!,
            sourcePort: srcport,
            destinationPort: dstport,
            direction: direction?.direction,
            interface: interface,
            protected: protected ? true : nil,
            mode: mode?.mode
        )
        let json = self.json
        await reportingFailures("Explain") {
            let configuration = try options.load()
            let client = ControlClient(configuration: configuration)
            let explanation: Explanation
            if try client.isListening() {
                explanation = try client.send(ExplainPacketCommand.self, query)
            } else {
                let environment = try await ExplainEnvironment.offline(configuration: configuration)
                explanation = await OfflineEngine.make(configuration).explain(query, environment: environment)
            }
            standardOutput(json ? JSONOutput.text(explanation) : ExplainText.text(explanation), terminator: "")
        }
    }
}

/// `--mode`: an operational mode by name, or a startup mode as `startup-NAME`.
struct ModeArgument: ExpressibleByArgument {
    var mode: DriverMode

    init?(argument: String) {
        let text = argument.lowercased()
        if text.hasPrefix("startup-"), let startup = StartupMode(rawValue: String(text.dropFirst("startup-".count))) {
            mode = .startup(startup)
        } else if let operational = OperationalMode(rawValue: text) {
            mode = .operational(operational)
        } else {
            return nil
        }
    }

    static var allValueStrings: [String] {
        OperationalMode.allCases.map(\.rawValue) + StartupMode.allCases.map { "startup-\($0.rawValue)" }
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
