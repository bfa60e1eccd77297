import PolicyModel
import Testing

/// Validates the fixture after one change and returns the problems.
private func problems(after change: (inout PolicyStore) -> Void) -> [ValidationProblem] {
    var store = Fixtures.store()
    change(&store)
    return store.validate()
}

/// Expects exactly one problem, at `location`, whose message contains `text`.
private func expectOnly(
    _ found: [ValidationProblem],
    at location: String,
    saying text: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
    #expect(found.first?.location == location, sourceLocation: sourceLocation)
    #expect(found.first?.message.contains(text) == true, "\(found)", sourceLocation: sourceLocation)
}

@Suite struct ValidationTests {
    @Test func fixtureIsValid() {
        #expect(Fixtures.store().validate() == [])
        #expect(PolicyStore().validate() == [])
    }

    @Test func everyProblemIsReportedNotJustTheFirst() {
        let found = problems { store in
            store.filterLists[1].filters[1].sourcePort = 80
            store.filterLists[1].filters[1].ipProtocol = IPProtocol.icmp
            store.filterLists[1].filters[0].destination = Fixtures.subnet("198.18.0.1", "255.255.255.0")
            store.policies[0].mainMode.securityMethods = []
        }
        #expect(
            found.map(\.location) == [
                "policy \"Secure Server (Require Security)\" › main mode › securityMethods",
                "filter list \"Mgmt\" › filter 1 › destination",
                "filter list \"Mgmt\" › filter 2 › sourcePort",
                "filter list \"Mgmt\" › filter 2 › destinationPort",
            ]
        )
        #expect(
            found[2].description
                == "filter list \"Mgmt\" › filter 2 › sourcePort: ports need protocol TCP or UDP, not ICMP"
        )
    }

    // MARK: - Filters

    @Test func portsOnlyWithTCPOrUDP() {
        let found = problems { $0.filterLists[1].filters[1].ipProtocol = IPProtocol.any }
        expectOnly(found, at: "filter list \"Mgmt\" › filter 2 › destinationPort", saying: "TCP or UDP, not ANY")
        #expect(problems { $0.filterLists[1].filters[1].ipProtocol = IPProtocol.udp } == [])
    }

    @Test func masksMustBeContiguous() {
        let found = problems { $0.filterLists[1].filters[0].destination = Fixtures.subnet("198.18.0.0", "255.0.255.0") }
        expectOnly(found, at: "filter list \"Mgmt\" › filter 1 › destination › mask", saying: "not contiguous")
    }

    @Test func subnetAddressWithHostBitsIsAProblem() {
        let found = problems {
            $0.filterLists[1].filters[0].destination = Fixtures.subnet("198.18.0.77", "255.255.255.0")
        }
        expectOnly(found, at: "filter list \"Mgmt\" › filter 1 › destination", saying: "the subnet is 198.18.0.0")
        #expect(problems { $0.filterLists[1].filters[0].destination = Fixtures.subnet("0.0.0.0", "0.0.0.0") } == [])
    }

    @Test func hostZeroIsNotAnAddress() {
        let found = problems { $0.filterLists[0].filters[0].destination = .host(.any) }
        expectOnly(found, at: "filter list \"All IP Traffic\" › filter 1 › destination", saying: "use me or any")
    }

    @Test func specialServerOnlyAgainstMe() {
        let found = problems { $0.filterLists[1].filters[2].source = .any }
        expectOnly(found, at: "filter list \"Mgmt\" › filter 3 › source", saying: "needs source me")
        let reversed = problems { $0.filterLists[1].filters[2].source = .server(.wins) }
        #expect(reversed.map(\.message).contains("a WINS server source needs destination me"))
    }

    @Test func sourceAndDestinationMustDiffer() {
        let found = problems { $0.filterLists[0].filters[0].destination = .me }
        expectOnly(found, at: "filter list \"All IP Traffic\" › filter 1", saying: "are the same (me)")
        #expect(problems { $0.filterLists[0].filters[0].source = .any } == [])
    }

    // MARK: - Rules and the default response rule

    @Test func atMostOneDefaultResponseRule() {
        let found = problems { store in
            store.policies[0].rules.append(
                Rule(id: Fixtures.guid(299), filterActionID: Fixtures.defaultResponseAction, isDefaultResponse: true)
            )
        }
        expectOnly(
            found,
            at: "policy \"Secure Server (Require Security)\" › default response rule",
            saying: "at most one default response rule"
        )
    }

    @Test func defaultResponseRuleShape() {
        let found = problems { store in
            store.policies[0].rules[1].filterListIDs = [Fixtures.allIP]
            store.policies[0].rules[1].filterActionID = Fixtures.permit
        }
        let prefix = "policy \"Secure Server (Require Security)\" › default response rule"
        #expect(
            found.map(\.description) == [
                "\(prefix) › filter list: the default response rule has no filter lists",
                "\(prefix) › filter action: filter action \"Permit\" must have type default-response",
                "\(prefix) › filter action: the default response rule's action must be negotiate",
            ]
        )
    }

    @Test func defaultResponseActionOnlyForTheDefaultResponseRule() {
        let found = problems { $0.policies[1].rules[1].filterActionID = Fixtures.defaultResponseAction }
        expectOnly(
            found,
            at: "policy \"Lockdown\" › rule \"Telnet\" › filter action",
            saying: "default response action"
        )
        let action = problems { $0.filterActions[3].action = .block }
        #expect(action.map(\.location).contains("filter action 4 › action"))
    }

    @Test func ordinaryRuleNeedsFilterListAndAction() {
        let found = problems { store in
            store.policies[1].rules[1].filterListIDs = []
            store.policies[1].rules[1].filterActionID = nil
        }
        #expect(
            found.map(\.location) == [
                "policy \"Lockdown\" › rule \"Telnet\" › filter list",
                "policy \"Lockdown\" › rule \"Telnet\" › filter action",
            ]
        )
    }

    @Test func authenticationMethods() {
        let found = problems { store in
            store.policies[1].rules[0].authenticationMethods = [.preSharedKey(""), .certificate(.init(name: ""))]
            store.policies[1].rules[1].authenticationMethods = []
        }
        #expect(
            found.map(\.description) == [
                "policy \"Lockdown\" › rule \"Mgmt\" › authentication method 1: the pre-shared key is empty",
                "policy \"Lockdown\" › rule \"Mgmt\" › authentication method 2: the root CA name is empty",
                "policy \"Lockdown\" › rule \"Telnet\" › authenticationMethods: a rule needs at least one authentication method",
            ]
        )
    }

    @Test func tunnelRulesNeedEndpointAndOneWayFilters() {
        let found = problems { $0.policies[1].rules[1].tunnelEndpoint = IPv4Address("198.18.1.1") }
        expectOnly(
            found,
            at: "policy \"Lockdown\" › rule \"Telnet\" › filter list \"All IP Traffic\" › filter 1",
            saying: "mirrored"
        )
        let zero = problems { store in
            store.filterLists[0].filters[0].mirrored = false
            store.policies[1].rules[1].tunnelEndpoint = .any
        }
        expectOnly(zero, at: "policy \"Lockdown\" › rule \"Telnet\" › tunnelEndpoint", saying: "not a tunnel endpoint")
    }

    // MARK: - Names, GUIDs and references

    /// Objects are their GUIDs (as in Windows): two of one kind may share a name; rule names stay
    /// unique within their policy, where netsh addresses rules by name.
    @Test func objectsOfOneKindMayShareANameButRulesOfAPolicyMayNot() {
        let found = problems { store in
            store.filterLists[1].name = "ALL ip traffic"
            store.filterActions[1].name = "Lockdown"
            store.policies[1].rules[1].name = "mgmt"
        }
        #expect(found.map(\.location) == ["policy \"Lockdown\" › rule \"mgmt\" › name"])
    }

    @Test func textsLongerThanTheLimitsAreProblemsAndMessagesStayShort() {
        let huge = String(repeating: "n", count: 10_000_000)
        let found = problems { store in
            store.policies[1].name = huge
            store.filterLists[0].description = String(repeating: "d", count: ValidationLimits.Text.description + 1)
            store.filterLists[0].filters[0].destination = .dnsName(
                String(repeating: "h", count: 256),
                address: IPv4Address(198, 18, 0, 9)
            )
        }
        #expect(found.count == 3)
        #expect(found.contains { $0.message == "10000000 characters is longer than the limit of 1024" })
        #expect(found.contains { $0.message == "1025 characters is longer than the limit of 1024" })
        #expect(found.contains { $0.message == "256 characters is longer than the limit of 255" })
        #expect(found.allSatisfy { $0.description.count < 300 })
        #expect(found.contains { $0.location.hasPrefix("policy \"nnnn") && $0.location.contains("…\" › name") })
    }

    @Test func defaultResponseActionsMayShareANameAsWindows2000Writes() {
        let found = problems { store in
            let name = "{8A171DD3-77E3-11D1-8659-A04F00000000}"
            store.filterActions[3].name = name
            var copy = store.filterActions[3]
            copy.id = Fixtures.guid(24)
            store.filterActions.append(copy)
            store.policies[1].rules.append(
                Rule(id: Fixtures.guid(204), filterActionID: copy.id, isDefaultResponse: true)
            )
        }
        #expect(found == [])
    }

    @Test func policyNeedsAName() {
        let found = problems { $0.policies[1].name = "" }
        expectOnly(found, at: "policy 2 › name", saying: "needs a name")
    }

    @Test func guidsAreUniqueAcrossTheStore() {
        let found = problems { $0.filterActions[2].id = Fixtures.allIP }
        // The Telnet rule's reference to the block action now dangles too.
        #expect(
            found.map(\.description) == [
                "filter action \"Block\" › id: GUID {00000000-0000-4000-8000-000000000010} is already the id of "
                    + "filter list \"All IP Traffic\"; ids must be unique across the store",
                "policy \"Lockdown\" › rule \"Telnet\" › filter action: refers to filter action "
                    + "{00000000-0000-4000-8000-000000000022}, which is not in the store",
            ]
        )
    }

    @Test func aRuleBelongsToOnePolicy() {
        let found = problems { $0.policies[1].rules.append($0.policies[0].rules[0]) }
        #expect(
            found.map(\.message).contains(
                "rule {00000000-0000-4000-8000-000000000200} is also in policy \"Secure Server (Require Security)\" › "
                    + "rule \"All IP\"; a rule belongs to exactly one policy"
            )
        )
    }

    @Test func mainModeIDMayNotBeAnotherObjectsID() {
        let found = problems { $0.policies[1].mainMode.id = Fixtures.secureServer }
        expectOnly(found, at: "policy \"Lockdown\" › main mode › id", saying: "already the id of policy")
        let shared = problems { $0.policies[1].mainMode.id = $0.policies[0].mainMode.id }
        expectOnly(shared, at: "policy \"Lockdown\" › main mode › id", saying: "belong to exactly one policy")
    }

    @Test func zeroGUIDIsNotAnObjectID() {
        let found = problems { $0.filterLists[1].filters[0].id = .zero }
        #expect(found == [])
        let policy = problems { store in
            store.policies[0].id = .zero
            store.assignedPolicyID = nil
        }
        expectOnly(policy, at: "policy \"Secure Server (Require Security)\" › id", saying: "zero GUID")
    }

    @Test func danglingAndMistypedReferences() {
        let found = problems { store in
            store.policies[1].rules[0].filterListIDs = [Fixtures.guid(999), Fixtures.permit]
            store.assignedPolicyID = Fixtures.allIP
        }
        #expect(
            found.map(\.description) == [
                "assignedPolicyID: refers to {00000000-0000-4000-8000-000000000010}, which is filter list "
                    + "\"All IP Traffic\", not a policy",
                "policy \"Lockdown\" › rule \"Mgmt\" › filter list: refers to filter list "
                    + "{00000000-0000-4000-8000-000000000999}, which is not in the store",
                "policy \"Lockdown\" › rule \"Mgmt\" › filter list: refers to {00000000-0000-4000-8000-000000000021}, "
                    + "which is filter action \"Permit\", not a filter list",
            ]
        )
    }

    // MARK: - Ranges and offers

    @Test func lifetimesAndIntervalsInRange() {
        let found = problems { store in
            store.policies[0].pollingIntervalSeconds = 30
            store.policies[0].mainMode.lifetimeSeconds = 172_801
            store.policies[0].mainMode.securityMethods[0].lifetimeSeconds = 0
            store.filterActions[0].offers[0].lifetimeSeconds = 299
            store.filterActions[0].offers[0].lifetimeKilobytes = 100
        }
        #expect(
            found.map(\.location) == [
                "policy \"Secure Server (Require Security)\" › pollingIntervalSeconds",
                "policy \"Secure Server (Require Security)\" › main mode › lifetimeSeconds",
                "filter action \"Require Security\" › offer 1 › lifetimeSeconds",
                "filter action \"Require Security\" › offer 1 › lifetimeKilobytes",
            ]
        )
        #expect(found[0].message == "30 seconds is out of range (0 for the default, or 60…2592000)")
    }

    @Test func offers() {
        let found = problems { store in
            store.filterActions[0].offers = [
                SecurityOffer(transforms: []),
                SecurityOffer(transforms: [.esp(encryption: .none, integrity: nil)]),
                SecurityOffer(transforms: [.ah(.md5), .ah(.sha1)]),
            ]
            store.filterActions[2].inboundPassThrough = true
            store.filterActions[1].offers = Fixtures.negotiateOffers  // ignored on permit, as in Windows
        }
        #expect(
            found.map(\.description) == [
                "filter action \"Require Security\" › offer 1 › transforms: an offer has 1…3 transforms, not 0",
                "filter action \"Require Security\" › offer 2 › transform 1: ESP needs encryption or integrity "
                    + "(not None with None)",
                "filter action \"Require Security\" › offer 3 › transforms: an offer bundles at most one AH and "
                    + "one ESP transform",
                "filter action \"Block\" › inboundPassThrough: inbound pass-through needs action negotiate",
            ]
        )
        let none = problems { $0.filterActions[0].offers = [] }
        expectOnly(none, at: "filter action \"Require Security\" › offers", saying: "at least one security offer")
    }
}
