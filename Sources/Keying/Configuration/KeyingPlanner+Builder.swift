import PolicyModel

extension KeyingPlanner {
    /// How this computer proves itself and checks the peer, one IKEv1 authentication method.
    enum Authentication: Hashable {
        case preSharedKey(String)
        case certificate(authority: CertificateFile, host: CertificateFile)
    }

    /// A connection being assembled: one rule and one peer scope.
    struct ConnectionPlan {
        var name: String
        var rule: RuleReference
        var peer: PeerScope
        var authentications: [Authentication]
        /// Per authentication method, what the section says besides the peer and the children.
        var settings: [ConnectionSettings]
        var mainMode: MainModeSettings
        var children: [IKEChild] = []
        var respondsOnly = false
    }

    /// What every filter of one context (one rule's actions, keying settings and provenance, shared
    /// by the filters of a list: ``EffectiveFilter/contextIdentity``) has in common, worked out once
    /// for all of them: the rule, its authentication, its proposals, or why it cannot be negotiated.
    struct RulePlan {
        var rule: RuleReference
        var negotiation: NegotiationSettings
        var authentications: [Authentication] = []
        var settings: [ConnectionSettings] = []
        var security = ChildSecurity(espProposals: [], ahProposals: [], lifetimeSeconds: 0, lifetimeKilobytes: 0)
        var soft = false
        var inboundPassThrough = false
        var refusal: String?
    }

    struct Builder {
        let host: KeyingHost
        let credentials: Credentials
        let datapath: KeyingDatapath
        /// The connections in the order they were first needed, and their numbers by name.
        var plans: [ConnectionPlan] = []
        var planNumbers: [String: Int] = [:]
        /// Per context box: the filters of a list share one, so each rule is planned once.
        var rulePlans: [ObjectIdentifier: RulePlan] = [:]
        /// Numbers of the refusals already in ``IKEConfiguration/unnegotiable``.
        var refusalNumbers: [UnnegotiableRule: Int] = [:]
        /// Notes already written: a rule's note is written once, however many filters it has.
        var noted: Set<String> = []
        var configuration = IKEConfiguration()

        init(host: KeyingHost, credentials: Credentials, datapath: KeyingDatapath) {
            self.host = host
            self.credentials = credentials
            self.datapath = datapath
        }

        // MARK: - Filters

        mutating func add(_ effective: EffectiveFilter, index: Int) {
            let actions = effective.actionFields
            let outbound = actions.outbound.kind == .negotiate
            guard outbound || actions.inbound.kind == .negotiate else { return }
            let context = effective.contextIdentity
            let rulePlan: RulePlan
            if let known = rulePlans[context] {
                rulePlan = known
            } else {
                rulePlan = plan(rule: effective, outbound: outbound)
                rulePlans[context] = rulePlan
            }
            if let refusal = rulePlan.refusal {
                refuse(index, rulePlan.rule, refusal)
                return
            }
            let sides: Sides
            switch self.sides(of: effective) {
            case .success(let found): sides = found
            case .failure(let reason):
                refuse(index, rulePlan.rule, reason.text)
                return
            }
            let rule = rulePlan.rule
            let soft = rulePlan.soft
            let inpass = rulePlan.inboundPassThrough
            let childName = "f" + KeyingPlanner.shortHash("\(effective.filter.id.braced)|\(index)")
            var hosts: [(IPv4Address, Int)] = []
            var template: Int?
            for peer in sides.peers {
                let (tag, scope) =
                    switch peer {
                    case .host(let ip): (ip.description, PeerScope.host(ip))
                    case .range(let text): ("net" + KeyingPlanner.shortHash(text), PeerScope.range(text))
                    }
                let name = "\(KeyingPlanner.prefix)\(rule.key)-\(tag)"
                let number: Int
                if let known = planNumbers[name] {
                    number = known
                } else {
                    number = plans.count
                    planNumbers[name] = number
                    plans.append(
                        ConnectionPlan(
                            name: name,
                            rule: rule,
                            peer: scope,
                            authentications: rulePlan.authentications,
                            settings: rulePlan.settings,
                            mainMode: rulePlan.negotiation.mainMode
                        )
                    )
                }
                let isHost: Bool = if case .host = scope { true } else { false }
                let remote =
                    if case .host(let ip) = scope, !sides.tunnel {
                        TrafficSelector(
                            .prefix(ip, length: 32),
                            ipProtocol: sides.protocolNumber,
                            port: sides.remotePort
                        )
                    } else {
                        sides.remoteSelector
                    }
                let trapped = datapath == .kernel && isHost && !soft && !inpass && !sides.respondsOnly
                plans[number].respondsOnly = sides.respondsOnly
                plans[number].children.append(
                    IKEChild(
                        name: childName,
                        local: sides.localSelector,
                        remote: remote,
                        security: rulePlan.security,
                        tunnel: sides.tunnel || datapath == .libipsec,
                        trapped: trapped
                    )
                )
                if case .host(let ip) = scope { hosts.append((ip, number)) } else { template = number }
            }
            guard !sides.respondsOnly else { return }
            configuration.targets.append(
                at: index,
                hosts: hosts,
                template: template,
                child: childName,
                soft: soft,
                inboundPassThrough: inpass,
                softIdleSeconds: rulePlan.negotiation.softAssociationIdleSeconds ?? 300,
                trapped: datapath == .kernel && !soft && !inpass && template == nil
            )
        }

        /// What the filters of `effective`'s context share: its rule, how it authenticates, what it
        /// proposes; or why none of its filters can be negotiated.
        mutating func plan(rule effective: EffectiveFilter, outbound: Bool) -> RulePlan {
            let action = outbound ? effective.outboundAction : effective.inboundAction
            let negotiation =
                effective.negotiation
                ?? NegotiationSettings(authenticationMethods: [.kerberos], mainMode: MainModeSettings(id: .zero))
            var plan = RulePlan(rule: KeyingPlanner.rule(effective.provenance), negotiation: negotiation)
            switch authenticationPlan(negotiation.authenticationMethods, rule: plan.rule) {
            case .success(let authentications): plan.authentications = authentications
            case .failure(let reason):
                plan.refusal = reason.text
                return plan
            }
            let proposals = quickModeProposals(action, mainMode: negotiation.mainMode, rule: plan.rule)
            guard !proposals.esp.isEmpty || !proposals.ah.isEmpty else {
                plan.refusal =
                    "none of the filter action's security methods can be negotiated with the \(datapath.rawValue) datapath"
                return plan
            }
            let first = action.offers.first
            plan.security = ChildSecurity(
                espProposals: proposals.esp,
                ahProposals: proposals.ah,
                lifetimeSeconds: first?.lifetimeSeconds ?? 0,
                lifetimeKilobytes: first?.lifetimeKilobytes ?? 0
            )
            plan.settings = connectionSettings(plan.authentications, mainMode: negotiation.mainMode)
            plan.soft = action.allowFallbackToClear
            plan.inboundPassThrough =
                effective.inboundAction.action == .negotiate && effective.inboundAction.inboundPassThrough
            return plan
        }

        mutating func refuse(_ index: Int, _ rule: RuleReference, _ reason: String) {
            let refusal = UnnegotiableRule(rule: rule, reason: reason)
            refusalNumbers[refusal] = configuration.unnegotiable.append(
                refusal,
                at: index,
                number: refusalNumbers[refusal]
            )
        }

        /// Per authentication method, the section's settings (one set of arrays for every connection of
        /// the rule).
        func connectionSettings(_ authentications: [Authentication], mainMode: MainModeSettings) -> [ConnectionSettings]
        {
            let proposals = ConnectionDefinition.mainModeProposals(mainMode)
            let reauth =
                mainMode.lifetimeSeconds == 0 ? MainModeSettings.defaultLifetimeSeconds : mainMode.lifetimeSeconds
            return authentications.map { authentication in
                let kind: ConnectionSettings.Authentication =
                    switch authentication {
                    case .preSharedKey: .preSharedKey
                    case .certificate(let authority, let host):
                        .certificate(
                            authority: authority.der,
                            host: host.der,
                            sendsCertificateRequest: !mainMode.omitCertificateRequest
                        )
                    }
                return ConnectionSettings(mainModeProposals: proposals, reauthSeconds: reauth, authentication: kind)
            }
        }

        /// Adds `note` unless it was written already.
        mutating func note(_ note: String) {
            if noted.insert(note).inserted { configuration.notes.append(note) }
        }

        mutating func addDefaultResponse(_ response: EffectiveDefaultResponse) {
            let rule = KeyingPlanner.rule(response.provenance)
            guard
                case .success(let authentications) = authenticationPlan(
                    response.negotiation.authenticationMethods,
                    rule: rule
                )
            else {
                note(
                    "\(rule.label): the default response rule has no authentication method strongSwan can use; it does not answer"
                )
                return
            }
            let proposals = quickModeProposals(response.action, mainMode: response.negotiation.mainMode, rule: rule)
            guard !proposals.esp.isEmpty || !proposals.ah.isEmpty else { return }
            let name = "\(KeyingPlanner.prefix)\(rule.key)-default-response"
            guard planNumbers[name] == nil else { return }
            var plan = ConnectionPlan(
                name: name,
                rule: rule,
                peer: .range("%any"),
                authentications: authentications,
                settings: connectionSettings(authentications, mainMode: response.negotiation.mainMode),
                mainMode: response.negotiation.mainMode,
                respondsOnly: true
            )
            let first = response.action.offers.first
            plan.children.append(
                IKEChild(
                    name: "default-response",
                    local: TrafficSelector(.dynamic),
                    remote: TrafficSelector(.dynamic),
                    security: ChildSecurity(
                        espProposals: proposals.esp,
                        ahProposals: proposals.ah,
                        lifetimeSeconds: first?.lifetimeSeconds ?? 0,
                        lifetimeKilobytes: first?.lifetimeKilobytes ?? 0
                    ),
                    tunnel: datapath == .libipsec,
                    trapped: false
                )
            )
            planNumbers[name] = plans.count
            plans.append(plan)
        }

        // MARK: - Authentication

        struct Refusal: Error {
            var text: String
        }

        /// The rule's methods that strongSwan can use, in the rule's order. Kerberos is skipped (IKEv1
        /// in strongSwan has no Kerberos); a certificate method needs its CA in `ike_ca_dir` and a host
        /// certificate in `ike_cert_dir`.
        mutating func authenticationPlan(
            _ methods: [AuthenticationMethod],
            rule: RuleReference
        ) -> Result<[Authentication], Refusal> {
            var plan: [Authentication] = []
            var skipped: [String] = []
            for method in methods {
                switch method {
                case .kerberos:
                    skipped.append("Kerberos V5 (strongSwan has no Kerberos authentication for IKEv1)")
                case .preSharedKey(let key):
                    if !plan.contains(.preSharedKey(key)) { plan.append(.preSharedKey(key)) }
                case .certificate(let authority):
                    guard let name = DistinguishedName(parsing: authority.name) else {
                        skipped.append("certificate: the CA name \"\(authority.name)\" is not a distinguished name")
                        continue
                    }
                    guard let ca = credentials.authority(named: name) else {
                        skipped.append("certificate: no certificate of \"\(authority.name)\" in ike_ca_dir")
                        continue
                    }
                    guard let own = credentials.hostCertificate(issuedBy: ca) else {
                        skipped.append("certificate: no host certificate in ike_cert_dir")
                        continue
                    }
                    plan.append(.certificate(authority: ca, host: own))
                }
            }
            if plan.isEmpty {
                let onlyKerberos = methods.allSatisfy { $0 == .kerberos }
                return .failure(
                    Refusal(
                        text: onlyKerberos
                            ? "cannot be negotiated on Linux: its only authentication method is Kerberos V5, which strongSwan does not offer for IKEv1"
                            : "cannot be negotiated: " + skipped.joined(separator: "; ")
                    )
                )
            }
            for reason in skipped { note("\(rule.label): skipped \(reason)") }
            return .success(plan)
        }

        // MARK: - Proposals

        /// ESP and AH proposals from the action's offers, in order; the session-key PFS group is the
        /// main mode's first group (Windows negotiates PFS with the main mode's group).
        mutating func quickModeProposals(
            _ action: FilterAction,
            mainMode: MainModeSettings,
            rule: RuleReference
        ) -> (esp: [String], ah: [String]) {
            var esp: [String] = []
            var ah: [String] = []
            let group = mainMode.securityMethods.first.map { StrongSwanNames.group($0.group) } ?? "modp1024"
            for offer in action.offers {
                let pfs = offer.perfectForwardSecrecy ? "-" + group : ""
                switch offer.transforms.count {
                case 1: break
                default:
                    note(
                        "\(rule.label): \(action.name): AH+ESP bundles cannot be negotiated by strongSwan; offer left out"
                    )
                    continue
                }
                switch offer.transforms[0] {
                case .ah(let hash):
                    guard datapath == .kernel else {
                        note(
                            "\(rule.label): \(action.name): AH is not available with libipsec; offer left out"
                        )
                        continue
                    }
                    let proposal = StrongSwanNames.integrity(hash) + pfs
                    if !ah.contains(proposal) { ah.append(proposal) }
                case .esp(let encryption, let integrity):
                    if encryption == .none && datapath == .libipsec {
                        note(
                            "\(rule.label): \(action.name): ESP without encryption is not available with libipsec; offer left out"
                        )
                        continue
                    }
                    var proposal = StrongSwanNames.encryption(encryption)
                    if let integrity { proposal += "-" + StrongSwanNames.integrity(integrity) }
                    proposal += pfs
                    if !esp.contains(proposal) { esp.append(proposal) }
                }
            }
            if Set(action.offers.map { "\($0.lifetimeSeconds)/\($0.lifetimeKilobytes)" }).count > 1 {
                note(
                    "\(rule.label): \(action.name): strongSwan has one lifetime per child; the first offer's applies to all"
                )
            }
            return (esp, ah)
        }

        // MARK: - Finish

        mutating func finish() -> IKEConfiguration {
            configuration.targets.names = plans.map(\.name)
            for plan in plans {
                // IKEv1 negotiates one authentication method per main mode: the first usable method
                // initiates; each further one is a responder-only variant charon picks by the method
                // the peer proposes. The variants share the children.
                for (number, authentication) in plan.authentications.enumerated() {
                    let variant = number == 0 ? plan.name : "\(plan.name)~\(number + 1)"
                    configuration.connections[variant] = IKEConnection(
                        name: variant,
                        peer: plan.peer,
                        settings: plan.settings[number],
                        children: plan.children,
                        startsNegotiations: number == 0,
                        rule: plan.rule,
                        respondsOnly: plan.respondsOnly || number > 0,
                        secrets: registerSecrets(authentication, connection: variant, peer: plan.peer),
                        quickModeLimit: plan.mainMode.masterKeyPFS ? 1 : plan.mainMode.quickModeLimit
                    )
                }
            }
            plans = []
            return configuration
        }

        /// Adds the secrets `authentication` needs and returns their IDs: the pre-shared key owned by
        /// the peer (or by anyone, for a range), or every private key of `ike_cert_dir`.
        mutating func registerSecrets(_ authentication: Authentication, connection: String, peer: PeerScope) -> [String]
        {
            switch authentication {
            case .preSharedKey(let key):
                let id = "\(KeyingPlanner.prefix)psk-\(connection)"
                let owners: [String] = if case .host(let ip) = peer { [ip.description] } else { [] }
                configuration.secrets[id] = IKESecret(id: id, kind: .sharedKey(owners: owners), data: Array(key.utf8))
                return [id]
            case .certificate:
                return credentials.privateKeys.map { key in
                    let id = "\(KeyingPlanner.prefix)key-\(KeyingPlanner.shortHash(key.path))"
                    configuration.secrets[id] = IKESecret(id: id, kind: .privateKey, data: key.data)
                    return id
                }
            }
        }
    }
}
