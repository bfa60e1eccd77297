import Foundation
import Keying
import PolicyModel
import Testing

/// The generated IKE configuration against real charon-systemd 5.9.8 daemons: one per test
/// namespace, kernel-libipsec, the peer's configured as a Windows Server 2003 peer. Root only.
@Suite(.serialized, .enabled(if: CharonEnvironment.available, CharonEnvironment.skipReason))
struct KeyingCharonTests {
    @Test func plannedConfigurationNegotiatesWithAWindowsPeer() async throws {
        let net = try await DriverNetwork()
        var daemons: [Charon] = []
        do {
            let local = try await Charon(net, namespace: net.host, name: "host")
            daemons.append(local)
            let peer = try await Charon(net, namespace: net.peer, name: "peer")
            daemons.append(peer)
            try await peer.configureWindowsPeer(local: net.peerAddress, remote: net.hostAddress, presharedKey: "it-psk")
            let policy = EffectivePolicy(
                generation: 1,
                filters: [
                    EffectiveFilter(
                        filter: Filter(id: TestPolicy.guid(1), source: .me, destination: .host(net.peerIP)),
                        inboundAction: FilterAction(
                            id: TestPolicy.guid(2),
                            name: "Require Security",
                            action: .negotiate,
                            offers: [
                                SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)]),
                                SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .md5)]),
                            ]
                        ),
                        provenance: Provenance(kind: .local, source: "local", policyName: "IT", ruleName: "peer"),
                        negotiation: NegotiationSettings(
                            authenticationMethods: [.preSharedKey("it-psk")],
                            mainMode: MainModeSettings(id: TestPolicy.guid(3))
                        )
                    )
                ]
            )
            let configuration = KeyingPlanner.plan(
                policy,
                host: KeyingHost(addresses: [net.hostIP]),
                datapath: .libipsec
            )
            let connection = try #require(configuration.connections.values.first)
            let client = local.client()
            for id in connection.secrets {
                try await client.checkedCall("load-shared", configuration.secrets[id]!.loadMessage)
            }
            try await client.checkedCall("load-conn", connection.loadMessage)
            let counter = try await WireCounter(net)
            let target = try #require(configuration.targets[0])
            let result = try await client.call(
                "initiate",
                ["ike": .text(connection.name), "child": .text(target.child), "timeout": "10000"],
                timeout: .seconds(15)
            )
            #expect(result.succeeded, "\(result) \(local.log())")
            #expect(await net.pings(from: net.host, to: net.peerAddress))
            #expect(await counter.espPackets() > 0)
            #expect(await counter.clearPackets() == 0)
            let sa = try #require(try await local.securityAssociations().first?.section(connection.name))
            #expect(sa.string("encr-alg") == "3DES_CBC")
            #expect(sa.string("dh-group") == "MODP_1024")
            await client.closeIdleConnections()
        } catch {
            for daemon in daemons { await daemon.stop() }
            await net.teardown()
            throw error
        }
        for daemon in daemons { await daemon.stop() }
        await net.teardown()
    }
}
