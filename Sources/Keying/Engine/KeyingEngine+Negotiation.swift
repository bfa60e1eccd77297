import DecisionCore
import Glibc
package import PolicyModel

extension KeyingEngine {
    /// One request from the packet path.
    func handle(_ request: KeyingRequest) async {
        switch request {
        case .softAssociationUsed(let peer):
            soft[peer]?.lastUsed = .now
        case .negotiate(let request):
            // charon is there but its state is being read again after a broken call: the request
            // waits for that instead of failing at once.
            if !connected, subscribed, let running = synchronizing { await running.value }
            await negotiate(request)
        }
    }

    /// Starts the negotiation a clear packet asked for, unless one runs, failed a moment ago, the
    /// peer is soft, or charon's trap does it (kernel datapath).
    func negotiate(_ request: NegotiationRequest) async {
        // A request made under another policy generation names another filter: the next packet asks again.
        guard request.generation == policy.generation else { return }
        if let refusal = plan.unnegotiable[request.filterIndex] {
            count("failures.not-negotiable")
            record(
                NegotiationFailure(
                    peer: request.peer,
                    rule: refusal.rule,
                    reason: .notNegotiable,
                    detail: refusal.reason,
                    time: Int64(time(nil))
                ),
                journal: false
            )
            return
        }
        guard let target = plan.targets[request.filterIndex], !target.trapped, soft[request.peer] == nil else { return }
        let name: String
        if let connection = target.connections[request.peer] {
            name = connection
        } else if let template = target.rangeTemplate {
            name = template + "@" + request.peer.description
        } else {
            return
        }
        let key = name + "/" + target.child
        if let running = negotiations[key] {
            guard let failedAt = running.failedAt, failedAt.duration(to: .now) >= retryInterval else { return }
        }
        let rule =
            plan.connections[target.connections[request.peer] ?? target.rangeTemplate ?? ""]?.rule
            ?? RuleReference(key: "", source: "", policyName: "", ruleName: "")
        var negotiation = Negotiation(
            peer: request.peer,
            connection: name,
            child: target.child,
            rule: rule,
            soft: target.soft,
            softIdleSeconds: target.softIdleSeconds,
            started: .now
        )
        guard connected else {
            count("failures.daemon-unavailable")
            record(
                NegotiationFailure(
                    peer: request.peer,
                    rule: rule,
                    reason: .daemonUnavailable,
                    detail: lastError ?? "charon's vici socket \(settings.viciSocket) does not answer",
                    time: Int64(time(nil))
                ),
                journal: negotiations[key] == nil
            )
            // Failed at once: the next packet tries again after the retry interval.
            negotiation.failedAt = .now
            negotiations[key] = negotiation
            return
        }
        negotiations[key] = negotiation
        count("negotiations.started")
        publish()
        if let template = target.rangeTemplate, target.connections[request.peer] == nil {
            guard await loadSpecialized(template: template, peer: request.peer) else {
                finish(key, .failure(.commandFailed(command: "load-conn", message: "no connection for the peer")), [])
                return
            }
        }
        let timeout = Int(settings.negotiationTimeout.wholeMilliseconds)
        let softDelay = settings.softFallbackDelay
        if target.soft {
            Task { [weak self] in
                try? await Task.sleep(for: softDelay)
                await self?.checkSoft(key)
            }
        }
        Task { [weak self, client] in
            var logs: [ViciMessage] = []
            let result: Result<ViciMessage, ViciError>
            do throws(ViciError) {
                let answer = try await client.stream(
                    "initiate",
                    [
                        "ike": .text(name), "child": .text(target.child), "timeout": .text(String(timeout)),
                        "loglevel": "1",
                    ],
                    event: "control-log",
                    timeout: .milliseconds(timeout) + .seconds(5)
                )
                logs = answer.items
                result = .success(answer.response)
            } catch {
                result = .failure(error)
            }
            await self?.finish(key, result, logs)
        }
    }

    /// The per-peer connection of a range rule, loaded on first use.
    func loadSpecialized(template: String, peer: IPv4Address) async -> Bool {
        guard let connection = plan.connections[template] else { return false }
        let made = KeyingPlanner.specialize(connection, to: peer, secrets: plan.secrets)
        if loaded[made.connection.name] == made.connection { return true }
        await beginChange()
        defer { endChange() }
        for secret in made.secrets where loadedSecrets[secret.id] != secret { await loadSecret(secret) }
        await loadConnection(made.connection)
        guard loaded[made.connection.name] != nil else { return false }
        specialized[made.connection.name] = (template, made.connection, made.secrets)
        return true
    }

    /// The soft delay passed while negotiating under a soft rule: when the peer never answered (charon
    /// lists its IKE SA with a responder cookie that is still zero), give up on IKE with it and let its
    /// traffic go in the clear. A peer that answered is never a soft peer, whatever happens next.
    ///
    /// No IKE SA with the peer is no evidence: charon may not have made it yet, or it is gone because
    /// the negotiation just ended (an answered one that failed authentication too) and `initiate`'s
    /// answer is still on its way. ``finish(_:_:_:)`` then decides from that answer and its log lines.
    func checkSoft(_ key: String) async {
        guard let negotiation = negotiations[key], negotiation.failedAt == nil, !negotiation.becameSoft else { return }
        let unanswered: Bool
        do {
            let items = try await client.stream("list-sas", ["ike": .text(negotiation.connection)], event: "list-sa")
                .items
            let live = KeyingAssociations.parse(items, rules: [:])
            let withPeer = live.mainModes.filter { $0.remote == negotiation.peer.description }
            unanswered =
                !withPeer.isEmpty
                && !withPeer.contains { $0.state == "ESTABLISHED" || !Self.isZero($0.responderCookie) }
        } catch {
            return
        }
        guard unanswered, negotiations[key]?.failedAt == nil, negotiations[key]?.becameSoft == false else { return }
        negotiations[key]?.becameSoft = true
        declareSoft(key, negotiation)
        publish()
        await terminate(negotiation.connection)
    }

    /// The peer of `negotiation` never answered IKE: its traffic goes in the clear from now on.
    func declareSoft(_ key: String, _ negotiation: Negotiation) {
        soft[negotiation.peer] = SoftAssociation(
            rule: negotiation.rule,
            since: Int64(time(nil)),
            idleLimit: .seconds(Int64(negotiation.softIdleSeconds)),
            lastUsed: .now,
            fallback: negotiation.started.duration(to: .now)
        )
        count("soft-associations")
        events.keyingEvent(.softAssociationStarted(peer: negotiation.peer, rule: negotiation.rule))
    }

    static func isZero(_ cookie: String) -> Bool { cookie.allSatisfy { $0 == "0" } }

    /// The outcome of `initiate`.
    func finish(_ key: String, _ result: Result<ViciMessage, ViciError>, _ logs: [ViciMessage]) {
        guard var negotiation = negotiations[key], negotiation.failedAt == nil else { return }
        if negotiation.becameSoft {
            negotiations[key] = nil
            publish()
            return
        }
        if case .success(let response) = result, response.succeeded {
            negotiations[key] = nil
            count("negotiations.succeeded")
            events.keyingEvent(.negotiated(peer: negotiation.peer, rule: negotiation.rule))
            publish()
            return
        }
        let (reason, detail) = Self.classify(result, logs, peer: negotiation.peer)
        if negotiation.soft && reason == .noAnswer {
            // Given up before the soft delay passed, and the peer never answered: a soft peer all the same.
            declareSoft(key, negotiation)
            negotiations[key] = nil
            publish()
            return
        }
        switch reason {
        case .noAnswer: count("failures.no-answer")
        case .authenticationFailed: count("failures.authentication")
        case .noProposalChosen: count("failures.no-proposal")
        case .daemonUnavailable: count("failures.daemon-unavailable")
        case .notNegotiable: count("failures.not-negotiable")
        case .failed: count("failures.other")
        }
        record(
            NegotiationFailure(
                peer: negotiation.peer,
                rule: negotiation.rule,
                reason: reason,
                detail: detail,
                time: Int64(time(nil))
            ),
            journal: true
        )
        negotiation.failedAt = .now
        negotiations[key] = negotiation
        publish()
        // charon may still retransmit after `initiate` gave up waiting: stop it, the next packet
        // starts afresh.
        Task { [weak self] in await self?.terminate(negotiation.connection) }
    }

    func record(_ failure: NegotiationFailure, journal: Bool) {
        failures.append(failure)
        if failures.count > 20 { failures.removeFirst(failures.count - 20) }
        if journal { events.keyingEvent(.negotiationFailed(failure)) }
    }

    /// Windows' failure reasons from charon's answer and its control-log lines: a peer that sent
    /// nothing back did not answer; an IKEv1 main mode that fails once encrypted (the peer could not
    /// decrypt, or its hash did not verify) failed authentication, as a wrong pre-shared key does.
    package static func classify(
        _ result: Result<ViciMessage, ViciError>,
        _ logs: [ViciMessage],
        peer: IPv4Address
    ) -> (NegotiationFailureReason, String) {
        let lines = logs.compactMap { $0.string("msg") }
        let detail: String
        switch result {
        case .success(let response): detail = response.errorMessage ?? "negotiation failed"
        case .failure(.timeout(let command, let milliseconds)):
            detail = "\(ViciError.timeout(command: command, milliseconds: milliseconds))"
        case .failure(let error) where error.isConnectionLoss:
            return (.daemonUnavailable, "\(error)")
        case .failure(let error):
            detail = "\(error)"
        }
        let last = lines.last { !$0.hasPrefix("sending packet") && !$0.hasPrefix("received packet") } ?? detail
        let lowered = lines.map { $0.lowercased() }
        /// The first line naming one of `words`.
        func line(mentioning words: [String]) -> String? {
            lowered.indices.first { index in words.contains { lowered[index].contains($0.lowercased()) } }
                .map { lines[$0] }
        }
        if let line = line(mentioning: [
            "NO_PROPOSAL_CHOSEN", "no proposal chosen", "no acceptable proposal", "no matching proposal",
        ]) {
            return (.noProposalChosen, line)
        }
        if let line = line(mentioning: [
            "AUTHENTICATION_FAILED", "authentication of", "decryption failed", "PLD_MAL", "INVALID_HASH",
            "INVALID_ID_INFORMATION", "HASH_V1", "no shared key found", "no trusted", "signature validation failed",
        ]) {
            return (.authenticationFailed, line)
        }
        let answered = lines.contains { $0.hasPrefix("received packet") && $0.contains(peer.description) }
        if !answered { return (.noAnswer, last) }
        return (.failed, last)
    }

    // MARK: - Ageing

    /// Ages soft associations, forgets old failures, follows the host's addresses.
    func tick() async {
        let now = ContinuousClock.now
        var changed = false
        for (peer, entry) in soft where entry.lastUsed.duration(to: now) >= entry.idleLimit {
            soft[peer] = nil
            changed = true
            events.keyingEvent(
                .softAssociationEnded(peer: peer, reason: "idle for \(entry.idleLimit.components.seconds) seconds")
            )
        }
        for (key, negotiation) in negotiations {
            if let failedAt = negotiation.failedAt, failedAt.duration(to: now) >= retryInterval * 12 {
                negotiations[key] = nil
            }
        }
        if changed { publish() }
        startSynchronizing()
        guard lastHostCheck.duration(to: now) >= hostCheckInterval else { return }
        lastHostCheck = now
        let current = hostSource()
        if current != host {
            host = current
            await replan()
        }
    }
}
