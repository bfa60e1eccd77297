import PolicyModel

extension KeyingPlanner {
    /// How this computer proves itself and checks the peer, one IKEv1 authentication method.
    enum Authentication: Hashable {
        case preSharedKey(String)
        case certificate(authority: CertificateFile, host: CertificateFile)
    }

    /// What one filter needs from a connection: its child and the peer(s) it talks to.
    struct ChildPlan {
        var name: String
        var localSelectors: [String]
        var remoteSelectors: [String]
        var espProposals: [String]
        var ahProposals: [String]
        var lifetimeSeconds: UInt32
        var lifetimeKilobytes: UInt32
        var tunnel: Bool
        var trapped: Bool
    }

    /// A connection being assembled: one rule and one peer scope.
    struct ConnectionPlan {
        var name: String
        var rule: RuleReference
        var peer: PeerScope
        var remoteAddress: String
        var authentications: [Authentication]
        var mainMode: MainModeSettings
        var children: [ChildPlan] = []
        var respondsOnly = false
    }

    struct Builder {
        let host: KeyingHost
        let credentials: Credentials
        let datapath: KeyingDatapath
        var plans: [String: ConnectionPlan] = [:]
        var order: [String] = []
        var configuration = IKEConfiguration()

        init(host: KeyingHost, credentials: Credentials, datapath: KeyingDatapath) {
            self.host = host
            self.credentials = credentials
            self.datapath = datapath
        }

        // MARK: - Filters

        mutating func add(_ effective: EffectiveFilter, index: Int) {
            let outbound = effective.outboundAction.action == .negotiate
            guard outbound || effective.inboundAction.action == .negotiate else { return }
            let action = outbound ? effective.outboundAction : effective.inboundAction
            let rule = KeyingPlanner.rule(effective.provenance)
            let negotiation =
                effective.negotiation
                ?? NegotiationSettings(authenticationMethods: [.kerberos], mainMode: MainModeSettings(id: .zero))
            func refuse(_ reason: String) {
                configuration.unnegotiable[index] = UnnegotiableRule(rule: rule, reason: reason)
            }
            let authentications: [Authentication]
            switch authenticationPlan(negotiation.authenticationMethods, rule: rule) {
            case .success(let plan): authentications = plan
            case .failure(let reason):
                refuse(reason.text)
                return
            }
            let proposals = quickModeProposals(action, mainMode: negotiation.mainMode, rule: rule)
            guard !proposals.esp.isEmpty || !proposals.ah.isEmpty else {
                refuse(
                    "none of the filter action's security methods can be negotiated with the \(datapath.rawValue) datapath"
                )
                return
            }
            let sides: Sides
            switch self.sides(of: effective) {
            case .success(let found): sides = found
            case .failure(let reason):
                refuse(reason.text)
                return
            }
            let first = action.offers.first
            let soft = action.allowFallbackToClear
            let inpass = effective.inboundAction.action == .negotiate && effective.inboundAction.inboundPassThrough
            let childName = "f" + KeyingPlanner.shortHash("\(effective.filter.id.braced)|\(index)")
            var hosts: [IPv4Address: String] = [:]
            var template: String?
            for peer in sides.peers {
                let (tag, scope, address) =
                    switch peer {
                    case .host(let ip): (ip.description, PeerScope.host(ip), ip.description)
                    case .range(let text):
                        ("net" + KeyingPlanner.shortHash(text), PeerScope.range(text), text)
                    }
                let name = "\(KeyingPlanner.prefix)\(rule.key)-\(tag)"
                if plans[name] == nil {
                    plans[name] = ConnectionPlan(
                        name: name,
                        rule: rule,
                        peer: scope,
                        remoteAddress: address,
                        authentications: authentications,
                        mainMode: negotiation.mainMode
                    )
                    order.append(name)
                }
                let isHost: Bool = if case .host = scope { true } else { false }
                let remote: [String] =
                    if case .host(let ip) = scope, !sides.tunnel {
                        [selector("\(ip)/32", sides.protocolNumber, sides.remotePort)]
                    } else {
                        sides.remoteSelectors
                    }
                let trapped = datapath == .kernel && isHost && !soft && !inpass && !sides.respondsOnly
                plans[name]!.respondsOnly = sides.respondsOnly
                plans[name]!.children.append(
                    ChildPlan(
                        name: childName,
                        localSelectors: sides.localSelectors,
                        remoteSelectors: remote,
                        espProposals: proposals.esp,
                        ahProposals: proposals.ah,
                        lifetimeSeconds: first.map { $0.lifetimeSeconds } ?? 0,
                        lifetimeKilobytes: first.map { $0.lifetimeKilobytes } ?? 0,
                        tunnel: sides.tunnel || datapath == .libipsec,
                        trapped: trapped
                    )
                )
                if case .host(let ip) = scope { hosts[ip] = name } else { template = name }
            }
            guard !sides.respondsOnly else { return }
            configuration.targets[index] = NegotiationTarget(
                connections: hosts,
                rangeTemplate: template,
                child: childName,
                soft: soft,
                inboundPassThrough: inpass,
                softIdleSeconds: negotiation.softAssociationIdleSeconds ?? 300,
                trapped: datapath == .kernel && !soft && !inpass && template == nil
            )
        }

        mutating func addDefaultResponse(_ response: EffectiveDefaultResponse) {
            let rule = KeyingPlanner.rule(response.provenance)
            guard
                case .success(let authentications) = authenticationPlan(
                    response.negotiation.authenticationMethods,
                    rule: rule
                )
            else {
                configuration.notes.append(
                    "\(rule.label): the default response rule has no authentication method strongSwan can use; it does not answer"
                )
                return
            }
            let proposals = quickModeProposals(response.action, mainMode: response.negotiation.mainMode, rule: rule)
            guard !proposals.esp.isEmpty || !proposals.ah.isEmpty else { return }
            let name = "\(KeyingPlanner.prefix)\(rule.key)-default-response"
            guard plans[name] == nil else { return }
            var plan = ConnectionPlan(
                name: name,
                rule: rule,
                peer: .range("%any"),
                remoteAddress: "%any",
                authentications: authentications,
                mainMode: response.negotiation.mainMode,
                respondsOnly: true
            )
            let first = response.action.offers.first
            plan.children.append(
                ChildPlan(
                    name: "default-response",
                    localSelectors: ["dynamic"],
                    remoteSelectors: ["dynamic"],
                    espProposals: proposals.esp,
                    ahProposals: proposals.ah,
                    lifetimeSeconds: first?.lifetimeSeconds ?? 0,
                    lifetimeKilobytes: first?.lifetimeKilobytes ?? 0,
                    tunnel: datapath == .libipsec,
                    trapped: false
                )
            )
            plans[name] = plan
            order.append(name)
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
            for reason in skipped { configuration.notes.append("\(rule.label): skipped \(reason)") }
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
                    configuration.notes.append(
                        "\(rule.label): \(action.name): AH+ESP bundles cannot be negotiated by strongSwan; offer left out"
                    )
                    continue
                }
                switch offer.transforms[0] {
                case .ah(let hash):
                    guard datapath == .kernel else {
                        configuration.notes.append(
                            "\(rule.label): \(action.name): AH is not available with libipsec; offer left out"
                        )
                        continue
                    }
                    let proposal = StrongSwanNames.integrity(hash) + pfs
                    if !ah.contains(proposal) { ah.append(proposal) }
                case .esp(let encryption, let integrity):
                    if encryption == .none && datapath == .libipsec {
                        configuration.notes.append(
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
                configuration.notes.append(
                    "\(rule.label): \(action.name): strongSwan has one lifetime per child; the first offer's applies to all"
                )
            }
            return (esp, ah)
        }

        // MARK: - Finish

        mutating func finish() -> IKEConfiguration {
            for name in order {
                let plan = plans[name]!
                // IKEv1 negotiates one authentication method per main mode: the first usable method
                // initiates; each further one is a responder-only variant charon picks by the method
                // the peer proposes.
                for (number, authentication) in plan.authentications.enumerated() {
                    let variant = number == 0 ? name : "\(name)~\(number + 1)"
                    configuration.connections[variant] = IKEConnection(
                        name: variant,
                        definition: ConnectionDefinition.make(
                            plan,
                            authentication,
                            datapath: datapath,
                            startsNegotiations: number == 0
                        ),
                        peer: plan.peer,
                        children: plan.children.map(\.name),
                        rule: plan.rule,
                        respondsOnly: plan.respondsOnly || number > 0,
                        secrets: registerSecrets(authentication, connection: variant, peer: plan.peer),
                        quickModeLimit: plan.mainMode.masterKeyPFS ? 1 : plan.mainMode.quickModeLimit
                    )
                }
            }
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

        /// `proto` and `port` as a selector suffix: `198.18.9.2/32[tcp/80]`.
        func selector(_ address: String, _ protocolNumber: UInt8, _ port: UInt16) -> String {
            guard protocolNumber != 0 else { return address }
            let name = StrongSwanNames.protocolName(protocolNumber)
            return address + (port == 0 ? "[\(name)]" : "[\(name)/\(port)]")
        }
    }
}
