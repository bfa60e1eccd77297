import Foundation
import IPsecSystem
import IPsecTestKit
import Synchronization
import Testing

/// A domain member for the live-directory tests: a network namespace on the DC's bridge, a computer
/// account (`NAME$`) with its keytab, and `ipsecsvc` running there as the service or as a command.
/// Commands run with their own UTS namespace whose host name is in the namespace's hosts file (libldap
/// resolves the local name when it starts) and with the client's `krb5.conf`.
final class DirectoryClient: Sendable {
    let domain: SambaDomain
    let name: String
    let address: String
    let namespace: String
    let directory: String
    private let service = Mutex<ChildProcess?>(nil)

    init(domain: SambaDomain, name: String, address: String) {
        self.domain = domain
        self.name = name
        self.address = address
        namespace = "\(domain.namespace)-c-\(name)"
        directory = "\(domain.work)/clients/\(name)"
    }

    /// The computer account's name (`CLIENT3$`).
    var account: String { name.uppercased() + "$" }
    var config: String { "\(directory)/ipsecsvc.conf" }
    var keytab: String { "\(directory)/krb5.keytab" }
    var computerDN: String { "CN=\(name.uppercased()),CN=Computers,\(SambaDomain.base)" }

    /// Writes `ipsecsvc.conf`: state and socket in the client's directory, the live directory by
    /// GSSAPI with the client's keytab, and `extra` lines. `timeout` is `ldap_timeout_seconds`: the
    /// default leaves a DC slowed down by a loaded machine (a 2-core CI machine running every suite)
    /// time to answer; only the tests of a silent or unreachable DC make it short.
    func configure(
        driver: String = "memory",
        timeout: Int = SambaDomain.ldapTimeout,
        stopTimeout: Int = 10,
        extra: [String] = []
    ) throws {
        let lines =
            [
                "state_dir = \(directory)/state", "socket = \(directory)/control.sock", "systemd = no",
                "driver = \(driver)", "stop_timeout = \(stopTimeout)", "directory = ldap",
                "domain = \(SambaDomain.domain)",
                "keytab = \(keytab)", "ldap_timeout_seconds = \(timeout)",
            ] + extra
        try (lines.joined(separator: "\n") + "\n").write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// `ipsecsvc ARGUMENTS --config …` in the client's namespace.
    func run(_ arguments: [String], config: String? = nil) async -> Outcome {
        let quoted = (arguments + ["--config", config ?? self.config]).map { "'\($0)'" }.joined(separator: " ")
        return await shell(
            "ip netns exec \(namespace) unshare -u sh -c 'hostname \(name) && "
                + "exec env KRB5_CONFIG=\(directory)/krb5.conf \"$@\"' sh '\(SambaDomain.executable)' \(quoted) 2>&1"
        )
    }

    /// Starts `ipsecsvc run` and waits until it answers `status`.
    func start() async throws {
        let command = Command(
            "ip",
            [
                "netns", "exec", namespace, "unshare", "-u", "sh", "-c",
                "hostname \(name) && exec env KRB5_CONFIG=\(directory)/krb5.conf \"$@\"", "sh",
                SambaDomain.executable, "run", "--config", config,
            ],
            searchPath: Command.systemDirectories,
            standardOutput: .appendToFile("\(directory)/service.log"),
            standardError: .sameAsOutput,
            grouping: .newGroup
        )
        let process = try ChildProcess.spawn(command)
        service.withLock { $0 = process }
        let running = await eventually(timeout: .seconds(120), interval: .milliseconds(250)) {
            guard process.waitIfExited() == nil else { return false }
            return await self.status()?["state"] as? String == "RUNNING"
        }
        guard running else { throw TestFailure("the service of \(name) did not start: \(serviceLog())") }
    }

    /// SIGTERM to the service (its own process group, while it is still ours) and waits for it to exit
    /// (SIGKILL after 120 s: a hang guard). Returns how it exited and the stop's measurement (both `nil`
    /// when it had to be killed): its wall time from the signal to the exit, seen by a thread that does
    /// nothing else, and how much of it the service and its children waited for a CPU (what a loaded
    /// machine adds; a stop that waits out a timeout sleeps, so that time stays in its own).
    @discardableResult
    func stop() async -> (status: IPsecSystem.ExitStatus?, took: StopMeasurement?) {
        guard let process = service.withLock({ $0 }) else { return (nil, nil) }
        let watched = await StopMeasurement.watch(
            process.pid,
            timeout: .seconds(120),
            signal: { process.signal(SIGTERM) },
            exited: { process.waitIfExited() },
            code: { $0.shellStatus }
        )
        process.signal(SIGKILL)
        _ = await BlockingPool.shared.run { process.wait() }
        service.withLock { $0 = nil }
        return (watched?.exit, watched?.took)
    }

    /// SIGHUP to the running service: a refresh, as `service refresh` does, without waiting for it.
    func hangUp() {
        service.withLock { $0 }?.signal(SIGHUP)
    }

    func serviceLog() -> String {
        (try? String(contentsOfFile: "\(directory)/service.log", encoding: .utf8)) ?? ""
    }

    /// `ipsecsvc status --json` of the running service, through its socket.
    func status() async -> [String: Any]? {
        let result = await shell("'\(SambaDomain.executable)' status --json --config '\(config)' 2>/dev/null")
        guard result.status == 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
    }

    /// The source named `name` in a status report.
    static func source(_ report: [String: Any]?, _ name: String) -> [String: Any]? {
        (report?["sources"] as? [[String: Any]])?.first { $0["name"] as? String == name }
    }

    /// The directory source's state (`in-effect`, `unavailable`, …) and its details.
    func directoryState() async -> (state: String?, details: [String: Any]) {
        let source = Self.source(await status(), "directory")
        return (source?["state"] as? String, source?["directory"] as? [String: Any] ?? [:])
    }

    /// The source in effect for the directory / cache / local slot, and its policy name.
    func staticPolicy() async -> (source: String, policy: String)? {
        guard let sources = await status()?["sources"] as? [[String: Any]] else { return nil }
        for source in sources where source["state"] as? String == "in-effect" {
            let name = source["name"] as? String ?? ""
            if ["directory", "directory-cache", "local"].contains(name) {
                return (name, source["policyName"] as? String ?? "")
            }
        }
        return nil
    }

    /// Waits until the slot is filled by `source` with `policy`. The default outlasts one failed read
    /// and the retry a minute later (Windows' schedule), so a read that a loaded machine made time out
    /// does not fail the test; each check is a process, hence the half-second interval.
    func waitFor(_ source: String, _ policy: String, timeout: Duration = .seconds(100)) async throws {
        let reached = await eventually(timeout: timeout, interval: .milliseconds(500)) {
            let now = await self.staticPolicy()
            return now?.source == source && now?.policy == policy
        }
        if !reached {
            let now = await staticPolicy()
            throw TestFailure(
                "\(name): expected \(source) '\(policy)', have \(now.map { "\($0.source) '\($0.policy)'" } ?? "none"); "
                    + "status: \(String(describing: await status())); log: \(serviceLog().suffix(3000))"
            )
        }
    }

    /// `ipsecsvc service refresh` (waits for the refresh).
    @discardableResult
    func refresh() async -> Outcome {
        await shell("'\(SambaDomain.executable)' service refresh --config '\(config)' 2>&1")
    }

    /// The destination ports of the effective filters of the running service.
    func effectivePorts() async -> [Int] {
        let result = await shell(
            "'\(SambaDomain.executable)' policy show --effective --json --config '\(config)' 2>/dev/null"
        )
        let report = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        return Self.destinationPorts(report)
    }

    /// The destination ports of the effective filters in a `policy show --effective --json` report.
    static func destinationPorts(_ report: [String: Any]?) -> [Int] {
        let filters = (report?["policy"] as? [String: Any])?["filters"] as? [[String: Any]] ?? []
        return filters.compactMap { ($0["filter"] as? [String: Any])?["destinationPort"] as? Int }
    }

    // MARK: - Network

    /// Takes the client's link to the DC's bridge down (or up again), on the DC's side.
    func link(up: Bool) async {
        await shell("ip -n \(domain.namespace) link set v-\(name) \(up ? "up" : "down")")
    }

    /// The DC as this client sees it when samba is stopped: LDAP and Kerberos connections refused (TCP
    /// reset), DNS and Kerberos datagrams answered with ICMP port unreachable. Only this client's
    /// address is affected; the other tests keep their DC.
    func refuseDC(_ on: Bool) async {
        let rules = [
            "-p tcp -m multiport --dports 53,88,389 -j REJECT --reject-with tcp-reset",
            "-p udp -m multiport --dports 53,88 -j REJECT --reject-with icmp-port-unreachable",
        ]
        for rule in rules {
            await shell("ip netns exec \(domain.namespace) iptables \(on ? "-I" : "-D") INPUT -s \(address) \(rule)")
        }
    }

    /// The DC accepts this client's LDAP connections but never answers: every data packet from the
    /// client to port 389 is dropped in the DC's namespace (the TCP handshake still completes).
    func hangLDAP(_ on: Bool) async {
        await shell(
            "ip netns exec \(domain.namespace) iptables \(on ? "-I" : "-D") INPUT -s \(address) -p tcp --dport 389 "
                + "! --syn -m length --length 61:65535 -j DROP"
        )
    }

    /// A TCP listener on `port` in the client's namespace (killed with the namespace), listening when
    /// this returns.
    func listen(_ port: Int) async throws {
        await shell("ip netns exec \(namespace) nohup nc -lk \(port) > /dev/null 2>&1 < /dev/null &")
        let listening = await eventually(timeout: .seconds(30), interval: .milliseconds(100)) {
            !(await shell("ip netns exec \(namespace) ss -Hltn 'sport = :\(port)'")).output.isEmpty
        }
        guard listening else { throw TestFailure("nc does not listen on port \(port) in \(namespace)") }
    }

    /// Whether a TCP connection from the DC's namespace to the client's `port` completes (within 2 s).
    func reachable(_ port: Int) async -> Bool {
        await shell("ip netns exec \(domain.namespace) nc -z -w 2 \(address) \(port)").status == 0
    }

    /// Whether `port` becomes reachable within 20 s: the status reports a policy a moment before the
    /// driver enforces it, and a loaded machine stretches that moment.
    func eventuallyReachable(_ port: Int) async -> Bool {
        await eventually(timeout: .seconds(20), interval: .milliseconds(500)) { await self.reachable(port) }
    }

    /// Whether `port` becomes blocked within 20 s (see `eventuallyReachable`).
    func eventuallyBlocked(_ port: Int) async -> Bool {
        await eventually(timeout: .seconds(20), interval: .milliseconds(500)) { !(await self.reachable(port)) }
    }
}

/// A policy in native XML with fresh GUIDs (lower case, as `ipsecsvc policy convert` names the objects):
/// one rule that blocks inbound TCP to `port` from anywhere.
struct BlockPortPolicy {
    let name: String
    var port: Int
    var pollingSeconds = 3600
    let policy = SambaDomain.guid().lowercased()
    let filterList = SambaDomain.guid().lowercased()
    let filter = SambaDomain.guid().lowercased()
    let action = SambaDomain.guid().lowercased()
    let isakmp = SambaDomain.guid().lowercased()
    let rule = SambaDomain.guid().lowercased()

    var dn: String { SambaDomain.policyDN(policy) }
    var filterListDN: String { "CN=ipsecFilter\(filterList),\(SambaDomain.ipSecurity)" }

    var xml: String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <policyStore xmlns="urn:ipsecsvc:policy:1" version="1" assignedPolicy="\(policy)">
          <filterList id="\(filterList)" name="\(name) port" description="">
            <filter id="\(filter)" description="port \(port)" mirrored="true" protocol="tcp" destinationPort="\(port)">
              <source><any/></source>
              <destination><me/></destination>
            </filter>
          </filterList>
          <filterAction id="\(action)" name="Block" description="" action="block" inpass="false" soft="false" type="standard"/>
          <policy id="\(policy)" name="\(name)" description="" pollingIntervalSeconds="\(pollingSeconds)">
            <mainMode id="\(isakmp)" masterKeyPFS="false" quickModeLimit="0" lifetimeSeconds="28800" certificateToAccountMapping="false" omitCertificateRequest="false">
              <securityMethod encryption="3DES" integrity="SHA1" group="2" quickModeLimit="0" lifetimeKilobytes="0" lifetimeSeconds="28800"/>
            </mainMode>
            <rule id="\(rule)" name="Block the port" description="" filterAction="\(action)" interface="all" active="true" defaultResponse="false">
              <filterListRef filterList="\(filterList)"/>
              <kerberos/>
            </rule>
          </policy>
        </policyStore>
        """
    }
}

/// A policy of `rules` rules, each with a filter list of its own (one filter: inbound TCP to
/// `firstPort + n`), all blocked: a container with more IPsec objects than one page of a search holds.
struct ManyRulePolicy {
    let name: String
    let rules: Int
    let firstPort: Int
    /// Eight hex digits that keep this policy's GUIDs apart from every other test's.
    let prefix = String(UUID().uuidString.prefix(8)).lowercased()

    func guid(_ kind: Int, _ n: Int) -> String {
        let number = String(n, radix: 16)
        let kindText = String(kind, radix: 16)
        return "{\(prefix)-\(String(repeating: "0", count: 4 - kindText.count) + kindText)-4000-8000-"
            + String(repeating: "0", count: 12 - number.count) + number + "}"
    }

    var dn: String { SambaDomain.policyDN(guid(1, 0)) }

    var xml: String {
        var lines = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            #"<policyStore xmlns="urn:ipsecsvc:policy:1" version="1" assignedPolicy="\#(guid(1, 0))">"#,
        ]
        for n in 0..<rules {
            lines.append(
                #"<filterList id="\#(guid(2, n))" name="\#(name) list \#(n)" description="">"#
                    + #"<filter id="\#(guid(3, n))" description="" mirrored="true" protocol="tcp" "#
                    + #"destinationPort="\#(firstPort + n)"><source><any/></source><destination><me/></destination>"#
                    + "</filter></filterList>"
            )
        }
        lines.append(
            #"<filterAction id="\#(guid(4, 0))" name="Block" description="" action="block" inpass="false" "#
                + #"soft="false" type="standard"/>"#
        )
        lines.append(#"<policy id="\#(guid(1, 0))" name="\#(name)" description="" pollingIntervalSeconds="3600">"#)
        lines.append(
            #"<mainMode id="\#(guid(5, 0))" masterKeyPFS="false" quickModeLimit="0" lifetimeSeconds="28800" "#
                + #"certificateToAccountMapping="false" omitCertificateRequest="false"><securityMethod "#
                + #"encryption="3DES" integrity="SHA1" group="2" quickModeLimit="0" lifetimeKilobytes="0" "#
                + #"lifetimeSeconds="28800"/></mainMode>"#
        )
        for n in 0..<rules {
            lines.append(
                #"<rule id="\#(guid(6, n))" name="Rule \#(n)" description="" filterAction="\#(guid(4, 0))" "#
                    + #"interface="all" active="true" defaultResponse="false"><filterListRef "#
                    + #"filterList="\#(guid(2, n))"/><kerberos/></rule>"#
            )
        }
        lines += ["</policy>", "</policyStore>"]
        return lines.joined(separator: "\n")
    }
}
