import Foundation
import Keying
import PolicyModel
import Synchronization
import Testing

/// What the IKE integration tests need: root, the driver tests' tools, a TUN device for
/// kernel-libipsec, and strongSwan's `charon-systemd` (Debian: `charon-systemd`,
/// `libcharon-extra-plugins`, `libstrongswan-extra-plugins`).
enum CharonEnvironment {
    static let daemon = "/usr/sbin/charon-systemd"

    static var available: Bool { missing == nil }

    /// Why the tests cannot run here, `nil` when they can.
    static var missing: String? {
        if !DriverTestEnvironment.available { return "needs root, iproute2, iptables, nc and the harness" }
        if !FileManager.default.fileExists(atPath: "/dev/net/tun") { return "needs /dev/net/tun (kernel-libipsec)" }
        if !FileManager.default.isExecutableFile(atPath: daemon) {
            return
                "needs \(daemon) (apt-get install charon-systemd libcharon-extra-plugins libstrongswan-extra-plugins)"
        }
        return nil
    }

    /// The skip message of the suites.
    static var skipReason: Comment { Comment(rawValue: missing ?? "") }
}

/// One charon-systemd inside a test namespace, with its own strongswan.conf, vici and error-notify
/// sockets and log file (nothing shared with another instance or the host), on kernel-libipsec.
final class Charon: Sendable {
    let network: DriverNetwork
    let namespace: String
    let directory: String
    private let process: Mutex<Process?>

    var configPath: String { directory + "/strongswan.conf" }
    var viciSocket: String { directory + "/charon.vici" }
    var errorNotifySocket: String { directory + "/charon.enfy" }
    var logPath: String { directory + "/charon.log" }

    /// Writes the configuration and starts the daemon; returns once its vici socket answers.
    /// - Parameter datapath: `.kernel` leaves kernel-libipsec out: IPsec goes to the kernel's XFRM
    ///   (policies, acquires), whose missing ESP fails only the installation of CHILD_SAs.
    init(_ network: DriverNetwork, namespace: String, name: String, datapath: KeyingDatapath = .libipsec) async throws {
        self.network = network
        self.namespace = namespace
        directory = network.directory + "/charon-" + name
        process = Mutex(nil)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.configuration(directory, datapath: datapath).write(
            toFile: configPath,
            atomically: true,
            encoding: .utf8
        )
        try await start()
    }

    /// The instance's strongswan.conf: kernel-libipsec before kernel-netlink (libipsec becomes the
    /// IPsec backend), host-to-host selectors allowed, charon's own packets marked so that they
    /// bypass the tunnel's routing table (without that pair ESP-in-UDP loops into the TUN device),
    /// short retransmissions (about 12 s in all), no journal, a log file.
    static func configuration(_ directory: String, datapath: KeyingDatapath = .libipsec) -> String {
        let libipsec = datapath == .libipsec ? "kernel-libipsec " : ""
        return """
            charon-systemd {
                journal {
                    default = -1
                }
            }
            charon {
                load = random nonce aes sha1 sha2 md5 hmac gcrypt gmp pem pkcs1 x509 pubkey \(libipsec)kernel-netlink socket-default vici error-notify updown
                port = 500
                port_nat_t = 4500
                retransmit_timeout = 1.0
                retransmit_base = 1.8
                retransmit_tries = 3
                install_routes = yes
                routing_table = 220
                routing_table_prio = 220
                plugins {
                    vici {
                        socket = unix://\(directory)/charon.vici
                    }
                    kernel-libipsec {
                        allow_peer_ts = yes
                    }
                    kernel-netlink {
                        fwmark = !0x42
                    }
                    socket-default {
                        fwmark = 0x42
                    }
                    error-notify {
                        socket = unix://\(directory)/charon.enfy
                    }
                }
                filelog {
                    main {
                        path = \(directory)/charon.log
                        time_format = %H:%M:%S
                        time_add_ms = yes
                        ike_name = yes
                        append = yes
                        flush_line = yes
                        default = 1
                        ike = 2
                        cfg = 2
                    }
                }
            }
            swanctl {
                socket = unix://\(directory)/charon.vici
                load = random nonce pem pkcs1 pkcs8 x509 pubkey
            }
            """
    }

    /// Starts the daemon (again) and waits for its vici socket.
    func start() async throws {
        try? FileManager.default.removeItem(atPath: viciSocket)
        let started = try network.spawn(
            namespace,
            ["/usr/bin/env", "STRONGSWAN_CONF=\(configPath)", CharonEnvironment.daemon],
            output: directory + "/charon.out"
        )
        process.withLock { $0 = started }
        let client = ViciClient(socketPath: viciSocket, defaultTimeout: .seconds(2))
        for _ in 0..<300 {
            if (try? await client.call("version")) != nil {
                await client.closeIdleConnections()
                return
            }
            guard started.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("charon did not start in \(namespace): \(log())")
    }

    /// Stops the daemon (SIGTERM, then SIGKILL after 10 s) while it is still the one this test started.
    func stop() async {
        guard let running = process.withLock({ $0 }) else { return }
        running.signalIfRunning(SIGTERM)
        for _ in 0..<200 where running.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        running.signalIfRunning(SIGKILL)
        for _ in 0..<100 where running.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        process.withLock { $0 = nil }
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// A vici client for this daemon.
    func client() -> ViciClient { ViciClient(socketPath: viciSocket, defaultTimeout: .seconds(10)) }

    /// Configures this daemon as a Windows Server 2003 peer would be: IKEv1 Main Mode, pre-shared key,
    /// 3DES-SHA1-MODP1024 for main mode and ESP 3DES-SHA1 for quick mode, host to host (tunnel mode
    /// between the two /32s: kernel-libipsec has no transport mode). It answers and, with
    /// `initiates`, can be asked to start.
    func configureWindowsPeer(local: String, remote: String, presharedKey: String) async throws {
        try await configureWindowsPeer(local: local, remote: remote, authentication: .presharedKey(presharedKey))
    }

    /// How the Windows peer authenticates: a pre-shared key, or its certificate (PEM) and key (PEM),
    /// accepting peers whose certificate `authority` (PEM) issued.
    enum PeerAuthentication {
        case presharedKey(String)
        case certificate(certificate: [UInt8], key: [UInt8], authority: [UInt8])
    }

    func configureWindowsPeer(local: String, remote: String, authentication: PeerAuthentication) async throws {
        let client = client()
        defer { Task { await client.closeIdleConnections() } }
        var connection: ViciMessage = [
            "version": "1",
            "aggressive": "no",
            "local_addrs": .texts([local]),
            "remote_addrs": .texts([remote]),
            "proposals": ["3des-sha1-modp1024"],
            "rekey_time": "0",
            "reauth_time": "28800",
            "dpd_delay": "0",
            "local-1": ["auth": "psk", "id": .text(local)],
            "remote-1": ["auth": "psk", "id": .text(remote)],
            "children": [
                "host": [
                    "mode": "tunnel",
                    "local_ts": .texts(["\(local)/32"]),
                    "remote_ts": .texts(["\(remote)/32"]),
                    "esp_proposals": ["3des-sha1"],
                    "rekey_time": "3600",
                    "start_action": "none",
                ]
            ],
        ]
        switch authentication {
        case .presharedKey(let presharedKey):
            try await client.checkedCall(
                "load-shared",
                ["id": "windows-psk", "type": "IKE", "data": .text(presharedKey), "owners": .texts([local, remote])]
            )
        case .certificate(let certificate, let key, let authority):
            // Windows sends its certificate's subject as its identity and asks for the peer's.
            connection["local-1"] = ["auth": "pubkey", "certs": .list([certificate])]
            connection["remote-1"] = ["auth": "pubkey", "id": "%any", "cacerts": .list([authority])]
            try await client.checkedCall("load-key", ["type": "rsa", "data": .value(key)])
        }
        try await client.checkedCall("load-conn", ["windows": .section(connection)])
    }

    /// The IKE SAs charon holds (`list-sas`).
    func securityAssociations() async throws -> [ViciMessage] {
        let client = client()
        defer { Task { await client.closeIdleConnections() } }
        return try await client.stream("list-sas", event: "list-sa").items
    }
}

/// Counts packets on the peer's veth with iptables counters (no tcpdump needed): ESP-in-UDP and IKE,
/// and clear TCP/ICMP between the two hosts (what does not come or go through the TUN device).
struct WireCounter {
    let network: DriverNetwork

    init(_ network: DriverNetwork) async throws {
        self.network = network
        let peer = network.peer
        let host = network.hostAddress
        let setup = await sh(
            """
            set -e
            ip netns exec \(peer) iptables -N IKETEST-IN
            ip netns exec \(peer) iptables -N IKETEST-OUT
            ip netns exec \(peer) iptables -I INPUT -j IKETEST-IN
            ip netns exec \(peer) iptables -I OUTPUT -j IKETEST-OUT
            ip netns exec \(peer) iptables -A IKETEST-IN -s \(host) -p udp --dport 4500 -m comment --comment esp-in
            ip netns exec \(peer) iptables -A IKETEST-OUT -d \(host) -p udp --dport 4500 -m comment --comment esp-out
            ip netns exec \(peer) iptables -A IKETEST-IN ! -i ipsec0 -s \(host) -p tcp -m comment --comment clear-tcp-in
            ip netns exec \(peer) iptables -A IKETEST-OUT ! -o ipsec0 -d \(host) -p tcp -m comment --comment clear-tcp-out
            ip netns exec \(peer) iptables -A IKETEST-IN ! -i ipsec0 -s \(host) -p icmp -m comment --comment clear-icmp-in
            ip netns exec \(peer) iptables -A IKETEST-OUT ! -o ipsec0 -d \(host) -p icmp -m comment --comment clear-icmp-out
            """
        )
        guard setup.status == 0 else { throw TestFailure("iptables counters: \(setup.output)") }
    }

    /// Packets per counter name.
    func counts() async -> [String: Int] {
        let listing = await sh(
            "ip netns exec \(network.peer) iptables -L IKETEST-IN -v -n -x; "
                + "ip netns exec \(network.peer) iptables -L IKETEST-OUT -v -n -x"
        )
        var result: [String: Int] = [:]
        for line in listing.output.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let packets = words.first.flatMap({ Int($0) }), let comment = line.range(of: "/* ") else { continue }
            let name = line[comment.upperBound...].split(separator: " ").first.map(String.init) ?? ""
            result[name] = packets
        }
        return result
    }

    /// Clear TCP and ICMP packets between the two hosts, both directions.
    func clearPackets() async -> Int {
        let counts = await counts()
        return ["clear-tcp-in", "clear-tcp-out", "clear-icmp-in", "clear-icmp-out"].reduce(0) { $0 + (counts[$1] ?? 0) }
    }

    /// ESP-in-UDP packets, both directions.
    func espPackets() async -> Int {
        let counts = await counts()
        return (counts["esp-in"] ?? 0) + (counts["esp-out"] ?? 0)
    }

    func reset() async {
        await sh(
            "ip netns exec \(network.peer) iptables -Z IKETEST-IN; ip netns exec \(network.peer) iptables -Z IKETEST-OUT"
        )
    }
}
