import DecisionCore
import IPsecTestKit
import Keying
import PolicyModel
import Synchronization

/// Loading N peers' negotiate rules into a running charon through the keying engine, then changing one
/// rule: the times, and what the change loaded.
enum LoadBench {
    /// Collects what charon refused.
    final class Refusals: KeyingEventSink {
        let failures = Mutex<[String]>([])

        func keyingEvent(_ event: KeyingEvent) {
            if case .loadFailed(let name, let reason) = event {
                failures.withLock { $0.append("\(name): \(reason)") }
            }
        }
    }

    /// One Require Security rule per peer (198.18.128.1 and up), each with a pre-shared key of its own;
    /// with `changed`, that rule's filter covers TCP only (its connection must be replaced, nothing else).
    static func policy(peers: Int, generation: UInt64, changed: Int? = nil) -> EffectivePolicy {
        let action = FilterAction(
            id: DecisionFixture.guid(1),
            name: "Require Security",
            action: .negotiate,
            offers: [
                SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .sha1)]),
                SecurityOffer(transforms: [.esp(encryption: .tripleDES, integrity: .md5)]),
            ]
        )
        let filters = (0..<peers).map { n in
            EffectiveFilter(
                filter: Filter(
                    id: DecisionFixture.guid(0x10000 + n),
                    source: .me,
                    destination: .host(IPv4Address(value: 0xC612_8000 + UInt32(n) + 1)),
                    ipProtocol: n == changed ? 6 : IPProtocol.any
                ),
                inboundAction: action,
                provenance: Provenance(
                    kind: .local,
                    source: "local",
                    policyName: "Bench",
                    policyID: DecisionFixture.guid(2),
                    ruleName: "peer \(n)",
                    ruleID: DecisionFixture.guid(0x20000 + n)
                ),
                negotiation: NegotiationSettings(
                    authenticationMethods: [.preSharedKey("key-\(n)")],
                    mainMode: MainModeSettings(id: DecisionFixture.guid(3))
                )
            )
        }
        return EffectivePolicy(generation: generation, filters: filters)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func run(viciSocket: String, peers: Int, rounds: Int) async {
        let refusals = Refusals()
        let host = KeyingHost(addresses: [IPv4Address(198, 18, 127, 1)])
        let clock = ContinuousClock()
        let charon = ViciClient(socketPath: viciSocket)
        var loadTimes: [Double] = []
        var changeTimes: [Double] = []
        var worstChange: [String: UInt64] = [:]
        for round in 1...max(1, rounds) {
            let engine = KeyingEngine(
                settings: KeyingSettings(viciSocket: viciSocket, datapath: .libipsec),
                events: refusals,
                hostSource: { host }
            )
            await engine.start()
            // The engine connects to charon and loads in the loops of its run(), which the service runs as a
            // Service of its group: here a child of this round.
            await withDiscardingTaskGroup { group in
                group.addTask { await engine.run() }
                let deadline = clock.now + .seconds(10)
                while await !engine.status().connected {
                    if clock.now > deadline {
                        BenchmarkSupport.fail("ipsecsvc-keying-bench", "charon at \(viciSocket) does not answer")
                    }
                    try? await Task.sleep(for: .milliseconds(10))
                }

                let start = clock.now
                await engine.apply(policy(peers: peers, generation: 1))
                let loaded = clock.now - start
                let held =
                    (try? await charon.call("get-conns").strings("conns"))?.filter {
                        $0.hasPrefix(KeyingPlanner.prefix)
                    }.count ?? 0

                let before = await engine.status().counters
                let changeStart = clock.now
                await engine.apply(policy(peers: peers, generation: 2, changed: peers / 2))
                let changed = clock.now - changeStart
                let after = await engine.status().counters
                var change: [String: UInt64] = [:]
                for name in [
                    "charon.connections-loaded", "charon.connections-unloaded", "charon.secrets-loaded",
                    "charon.secrets-unloaded",
                ] {
                    change[name] = (after[name] ?? 0) - (before[name] ?? 0)
                }
                print(
                    "round \(round): charon holds \(held) of \(peers) connections; load \(seconds(loaded)) s; "
                        + "change of one rule \(seconds(changed)) s: "
                        + change.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                )
                if held != peers {
                    BenchmarkSupport.fail("ipsecsvc-keying-bench", "charon holds \(held) connections, not \(peers)")
                }
                loadTimes.append(seconds(loaded))
                changeTimes.append(seconds(changed))
                for (name, value) in change { worstChange[name] = max(worstChange[name] ?? 0, value) }
                await engine.stop()
            }
        }
        let failures = refusals.failures.withLock { $0 }
        if !failures.isEmpty { BenchmarkSupport.fail("ipsecsvc-keying-bench", "charon refused: \(failures.prefix(3))") }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        print("peers \(peers)")
        print("load-seconds-median \(median(loadTimes))")
        print("change-one-rule-seconds-median \(median(changeTimes))")
        // What the change loaded into charon (the most over the rounds): one connection, nothing else.
        print("change-one-rule-connections-loaded \(worstChange["charon.connections-loaded"] ?? 0)")
        print(
            "change-one-rule-other-calls \((worstChange["charon.connections-unloaded"] ?? 0) + (worstChange["charon.secrets-loaded"] ?? 0) + (worstChange["charon.secrets-unloaded"] ?? 0))"
        )
        await charon.closeIdleConnections()
    }
}
