import PolicyModel

extension KeyingEngine {
    /// charon's events and the subscription's connection changes.
    func handle(_ event: ViciSubscriptionEvent) async {
        switch event {
        case .connected:
            subscribed = true
            await synchronize()
        case .disconnected(let error):
            subscribed = false
            lost(error)
            // Negotiations in flight cannot finish: their `initiate` calls fail on their own.
            publish()
        case .event(let name, let message):
            observe(name, message)
        }
    }

    /// Runs ``connectedToDaemon()``, or waits for the run in progress to end.
    func synchronize() async {
        await synchronization().value
    }

    /// The run of ``connectedToDaemon()`` in progress, started if none is. Set before this returns, so
    /// a request handled next already sees it.
    private func synchronization() -> Task<Void, Never> {
        if let running = synchronizing { return running }
        let run = Task {
            await connectedToDaemon()
            synchronizing = nil
        }
        synchronizing = run
        return run
    }

    /// A command's connection broke or timed out (``lost(_:)``: charon's state is unknown now), or
    /// the calls after the subscription's `connected` failed, while the subscription stayed
    /// registered: charon sends no new `connected` then, so without this the engine would stay
    /// disconnected for good, load nothing and fail every negotiation without a word to charon.
    /// Called on every loss and every tick; runs on a task of its own.
    func startSynchronizing() {
        guard subscribed, !connected else { return }
        _ = synchronization()
    }

    /// charon answers (again): whatever it held from an earlier run of this service is replaced,
    /// and after its restart everything is loaded again.
    func connectedToDaemon() async {
        let version: ViciMessage
        let present: [String]
        do {
            version = try await client.call("version")
            present = try await client.call("get-conns").strings("conns") ?? []
        } catch {
            lastError = "\(error)"
            return
        }
        await beginChange()
        connected = true
        lastError = nil
        daemon = [version.string("daemon"), version.string("version")].compactMap { $0 }.joined(separator: " ")
        // What charon holds is unknown after a restart of either side: load everything again, and
        // drop this service's leftovers that the plan no longer has.
        loaded = [:]
        loadedSecrets = [:]
        for name in present where name.hasPrefix(KeyingPlanner.prefix) && plan.connections[name] == nil {
            if specialized[name] != nil { continue }
            await terminate(name)
            _ = try? await client.call("unload-conn", ["name": .text(name)])
        }
        await reconcile()
        endChange()
        if connected {
            events.keyingEvent(.daemonConnected(version: daemon ?? "", connections: loaded.count))
        }
    }

    /// Counts main and quick modes, enforces the quick-mode limit, ends soft associations with peers
    /// that now speak IPsec.
    func observe(_ name: String, _ message: ViciMessage) {
        guard message.string("up") == "yes",
            let (connection, sa) = message.sections.first.map({ ($0.name, $0.message) })
        else {
            if name == "ike-updown", let sa = message.sections.first?.message, let id = sa.string("uniqueid") {
                quickModesPerMainMode[id] = nil
            }
            return
        }
        switch name {
        case "ike-updown":
            count("main-modes")
        case "child-updown":
            count("quick-modes")
            if let remote = sa.string("remote-host").flatMap(IPv4Address.init), let entry = soft[remote] {
                soft[remote] = nil
                events.keyingEvent(.softAssociationEnded(peer: remote, reason: "the peer negotiated IPsec"))
                _ = entry
                publish()
            }
            enforceQuickModeLimit(connection, sa)
        default:
            break
        }
    }

    /// charon has no limit of quick modes per main mode: after the policy's limit (1 with master key
    /// PFS) the IKE SA is re-authenticated, so the next quick mode gets a fresh main mode.
    func enforceQuickModeLimit(_ connection: String, _ sa: ViciMessage) {
        guard let limit = loaded[connection]?.quickModeLimit, limit > 0, let id = sa.string("uniqueid") else { return }
        let count = quickModesPerMainMode[id, default: 0] + 1
        quickModesPerMainMode[id] = count
        guard count >= Int(limit) else { return }
        quickModesPerMainMode[id] = 0
        Task { [client] in
            _ = try? await client.call("rekey", ["ike-id": .text(id), "reauth": "yes"])
        }
        self.count("main-modes.reauthenticated")
    }
}
