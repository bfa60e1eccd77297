extension Rule {
    /// Checks a rule: its references, the default response rule's shape, authentication and tunnel.
    func validate(
        at path: ValidationPath,
        in store: PolicyStore,
        index: ValidationIndex,
        into report: inout ValidationReport
    ) {
        let lists = resolveFilterLists(at: path, in: store, index: index, into: &report)
        let action = resolveFilterAction(at: path, in: store, index: index, into: &report)
        if isDefaultResponse {
            checkDefaultResponseShape(action, at: path, into: &report)
        } else {
            if filterListIDs.isEmpty {
                report.add(
                    path.appending("filter list"),
                    "a rule needs at least one filter list (only the default response rule has none)"
                )
            }
            if filterActionID == nil {
                report.add(path.appending("filter action"), "a rule needs a filter action")
            }
            if let action, action.type == .defaultResponse {
                report.add(
                    path.appending("filter action"),
                    "filter action \"\(action.name)\" is a default response action; only the default response rule may use it"
                )
            }
        }
        checkAuthentication(at: path, into: &report)
        checkTunnel(lists, at: path, into: &report)
    }

    private func resolveFilterLists(
        at path: ValidationPath,
        in store: PolicyStore,
        index: ValidationIndex,
        into report: inout ValidationReport
    ) -> [FilterList] {
        var seen: Set<IPsecGUID> = []
        var lists: [FilterList] = []
        for id in filterListIDs {
            if !seen.insert(id).inserted {
                report.add(path.appending("filter list"), "filter list \(id) is listed twice")
            } else if let list = index.filterList(id, in: store) {
                lists.append(list)
            } else {
                report.add(path.appending("filter list"), index.missing(id, expected: "filter list"))
            }
        }
        return lists
    }

    private func resolveFilterAction(
        at path: ValidationPath,
        in store: PolicyStore,
        index: ValidationIndex,
        into report: inout ValidationReport
    ) -> FilterAction? {
        guard let id = filterActionID else { return nil }
        if let action = index.filterAction(id, in: store) { return action }
        report.add(path.appending("filter action"), index.missing(id, expected: "filter action"))
        return nil
    }

    /// The default response rule answers IKE for traffic no other rule covers: no static filters, a
    /// negotiate action of the default-response type, no tunnel (windows-ipsec.md §4.6).
    private func checkDefaultResponseShape(
        _ action: FilterAction?,
        at path: ValidationPath,
        into report: inout ValidationReport
    ) {
        if !filterListIDs.isEmpty {
            report.add(path.appending("filter list"), "the default response rule has no filter lists")
        }
        if filterActionID == nil {
            report.add(path.appending("filter action"), "the default response rule needs its filter action")
        }
        if let action {
            if action.type != .defaultResponse {
                report.add(
                    path.appending("filter action"),
                    "filter action \"\(action.name)\" must have type default-response"
                )
            }
            if action.action != .negotiate {
                report.add(path.appending("filter action"), "the default response rule's action must be negotiate")
            }
        }
        if tunnelEndpoint != nil || !tunnelEndpointName.isEmpty {
            report.add(path.appending("tunnelEndpoint"), "the default response rule cannot use a tunnel")
        }
    }

    private func checkAuthentication(at path: ValidationPath, into report: inout ValidationReport) {
        if authenticationMethods.isEmpty {
            report.add(path.appending("authenticationMethods"), "a rule needs at least one authentication method")
        }
        for (position, method) in authenticationMethods.enumerated() {
            let methodPath = path.appending("authentication method \(position + 1)")
            switch method {
            case .kerberos:
                break
            case .preSharedKey(let key):
                if key.isEmpty { report.add(methodPath, "the pre-shared key is empty") }
            case .certificate(let authority):
                if authority.name.isEmpty { report.add(methodPath, "the root CA name is empty") }
            }
        }
        let distinct = Set(authenticationMethods)
        if distinct.count != authenticationMethods.count {
            report.add(path.appending("authenticationMethods"), "an authentication method is listed twice")
        }
    }

    /// Tunnel rules: a real endpoint, and only one-way filters; Windows refuses mirrored filters in a
    /// tunnel rule because the tunnel endpoint holds for one direction only.
    private func checkTunnel(_ lists: [FilterList], at path: ValidationPath, into report: inout ValidationReport) {
        guard !isDefaultResponse else { return }
        if let endpoint = tunnelEndpoint {
            if endpoint == .any || endpoint == .broadcast {
                report.add(path.appending("tunnelEndpoint"), "\(endpoint) is not a tunnel endpoint")
            }
            for list in lists {
                for (position, filter) in list.filters.enumerated() where filter.mirrored {
                    report.add(
                        path.appending("filter list \"\(list.name)\" › filter \(position + 1)"),
                        "a tunnel rule cannot use mirrored filters"
                    )
                }
            }
        } else if !tunnelEndpointName.isEmpty {
            report.add(
                path.appending("tunnelEndpoint"),
                "tunnel endpoint \"\(tunnelEndpointName)\" has no resolved address"
            )
        }
    }
}
