import Foundation
import IPsecSystem
import IPsecTestKit
import Testing

/// The live directory (`directory = ldap`) against a real Samba AD DC provisioned once for this suite
/// (SambaDomainSupport.swift): Group Policy as Windows applies it, enforcement of the directory policy with
/// packets, polling, refresh, and the failure cases. Root only; each test has its own client namespace,
/// computer account, OUs, GPOs and policies, so the tests run in parallel on the one DC.
@Suite(
    .sambaDomain,
    .enabled(if: SambaDomain.unavailableReason == nil, Comment(rawValue: SambaDomain.unavailableReason ?? "")),
    .timeLimit(.minutes(10))
)
struct LiveDirectoryTests {
    var domain: SambaDomain {
        get throws { try #require(SambaDomainTrait.current, "the Samba domain was not provisioned") }
    }

    /// An OU for `client` with a GPO linked to it that assigns the policy at `policyDN` (already
    /// uploaded), and the computer moved there. Returns the OU's DN and the GPO's GUID.
    func assign(
        _ policyDN: String,
        to client: DirectoryClient,
        ou label: String
    ) async throws
        -> (ou: String, gpo: String)
    {
        let ou = "OU=\(label)-\(client.name),\(SambaDomain.base)"
        let gpo = SambaDomain.guid()
        try await domain.admin([
            "ou|\(ou)", "gpo|\(gpo)|\(label) GPO \(client.name)|0",
            "link|\(ou)|\(SambaDomain.gpLink([(gpo, 0)]))|", "assign|\(gpo)|\(policyDN)",
            "move|\(client.computerDN)|\(ou)",
        ])
        return (ou, gpo)
    }

    /// Runs `body` with the client's service stopped afterwards, also on failure.
    func withService(_ client: DirectoryClient, _ body: () async throws -> Void) async throws {
        do {
            try await client.start()
            try await body()
        } catch {
            await client.stop()
            throw error
        }
        await client.stop()
    }

    // MARK: - Applied, enforced, polled

    /// A policy assigned through a GPO linked to the computer's OU is applied and enforced on real
    /// packets; its filter list is then changed on the DC (the policy object itself is not touched, so
    /// its whenChanged stays) and the next poll, at the policy's own interval, applies the change.
    @Test func assignedPolicyIsEnforcedAndAFilterListChangeAppliesAtTheNextPoll() async throws {
        let domain = try self.domain
        let client = try await domain.client("enf")
        var policy = BlockPortPolicy(name: "Block 23 \(client.name)", port: 23, pollingSeconds: 60)
        try await domain.upload(policy.xml)
        let (ou, _) = try await assign(policy.dn, to: client, ou: "Enforced")
        try client.configure(driver: "netfilter")
        for port in [22, 23, 2323] { try await client.listen(port) }
        try await withService(client) {
            try await client.waitFor("directory", policy.name)
            #expect(await client.eventuallyReachable(22))
            #expect(await client.eventuallyBlocked(23))
            #expect(await client.eventuallyReachable(2323))

            let (_, details) = await client.directoryState()
            #expect(details["server"] as? String == "ldap://dc1.example.test")
            #expect(details["gpo"] as? String == "Enforced GPO \(client.name)")
            #expect(details["computerDN"] as? String == "CN=\(client.name.uppercased()),\(ou)")
            #expect(details["nextPoll"] != nil && details["lastSuccess"] != nil)
            let log = client.serviceLog()
            #expect(log.contains("IPSECSVC_DC=ldap://dc1.example.test"), "\(log)")
            #expect(log.contains("IPSECSVC_GPO=Enforced GPO \(client.name)"))

            let before = await domain.whenChanged(policy.dn)
            policy.port = 2323
            try await domain.upload(policy.xml)
            #expect(await domain.whenChanged(policy.dn) == before, "only the filter list changed")
            let polled = await eventually(timeout: .seconds(150), interval: .milliseconds(500)) {
                await client.effectivePorts() == [2323]
            }
            #expect(polled, "\(client.serviceLog().suffix(2000))")
            // Seen once (load 6): the service showed the polled policy and 20 s later the driver still
            // enforced the old one. With both logs and the driver's status, the next failure says why.
            let reachable = await client.eventuallyReachable(23)
            let blocked = await client.eventuallyBlocked(2323)
            if !reachable || !blocked {
                let status = await client.status() ?? [:]
                let driverLog = "\(client.directory)/state/ipsecsvc-driver.log"
                let driver = (try? String(contentsOfFile: driverLog, encoding: .utf8)) ?? ""
                let message =
                    "the polled policy is not enforced (23 reachable: \(reachable), 2323 blocked: \(blocked)); "
                    + "status: \(status)\nservice log:\n\(client.serviceLog().suffix(4000))\n"
                    + "driver log:\n\(driver.suffix(4000))"
                Issue.record(Comment(rawValue: message))
            }
            #expect(client.serviceLog().contains("(policy poll)"))
            #expect(client.serviceLog().contains("\(policy.filterListDN) changed"))
        }
    }

    // MARK: - Group Policy precedence

    /// Block inheritance, an enforced link, a disabled link, link order, a GPO the computer may not read
    /// and a GPO whose computer settings are disabled: the GPOs the service applies are the ones
    /// `samba-tool gpo list` names, and the IPsec policy is that of the highest-precedence GPO.
    @Test func groupPolicyPrecedenceAgreesWithSambaTool() async throws {
        let domain = try self.domain
        let client = try await domain.client("prec")
        let tag = client.name
        let top = "OU=Top-\(tag),\(SambaDomain.base)"
        let child = "OU=Child,\(top)"
        let order = "OU=Order-\(tag),\(SambaDomain.base)"
        let site = "CN=Default-First-Site-Name,CN=Sites,CN=Configuration,\(SambaDomain.base)"
        let names = ["TopEnf", "Top", "Child", "Disabled", "Denied", "Order1", "Order2", "CompOff", "Site"]
        var gpo: [String: String] = [:]
        var policies: [String: BlockPortPolicy] = [:]
        var commands = ["ou|\(top)", "ou|\(child)", "ou|\(order)"]
        for (index, name) in names.enumerated() {
            gpo[name] = SambaDomain.guid()
            commands.append("gpo|\(gpo[name]!)|\(name) \(tag)|\(name == "CompOff" ? 2 : 0)")
            // The site GPO assigns nothing: every test's computer is in this site.
            guard name != "Site" else { continue }
            let policy = BlockPortPolicy(name: "\(name) policy \(tag)", port: 3000 + index)
            try await domain.upload(policy.xml)
            policies[name] = policy
            commands.append("assign|\(gpo[name]!)|\(policy.dn)")
        }
        commands += [
            "link|\(top)|\(SambaDomain.gpLink([(gpo["TopEnf"]!, 2), (gpo["Top"]!, 0)]))|",
            "link|\(child)|\(SambaDomain.gpLink([(gpo["Denied"]!, 0), (gpo["Child"]!, 0), (gpo["Disabled"]!, 1)]))|1",
            "link|\(order)|\(SambaDomain.gpLink([(gpo["CompOff"]!, 0), (gpo["Order1"]!, 0), (gpo["Order2"]!, 0)]))|",
            "deny-read|\(SambaDomain.gpoDN(gpo["Denied"]!))",
        ]
        // Sites: the subnet of the test network puts every client in Default-First-Site-Name; a GPO is
        // linked there (samba-tool gpo list does not evaluate sites, so it is left out of the comparison).
        commands.append("subnet|\(domain.net).0/24|\(site)")
        commands.append("link|\(site)|\(SambaDomain.gpLink([(gpo["Site"]!, 0)]))|")
        try await domain.admin(commands)

        // Three computers: in the blocking child OU, in the top OU, in the link-order OU.
        let cases: [(label: String, ou: String, winner: String, site: Bool)] = [
            ("pc\(tag)a", child, "TopEnf", false), ("pc\(tag)b", top, "TopEnf", true),
            ("pc\(tag)c", order, "Order1", true),
        ]
        for (label, ou, winner, inSite) in cases {
            let keytab = try await domain.account(label, in: client.directory)
            try await domain.admin(["move|CN=\(label.uppercased()),CN=Computers,\(SambaDomain.base)|\(ou)"])
            let config = "\(client.directory)/\(label).conf"
            try """
            state_dir = \(client.directory)/\(label)-state
            socket = \(client.directory)/\(label).sock
            systemd = no
            driver = memory
            directory = ldap
            domain = \(SambaDomain.domain)
            keytab = \(keytab)
            ldap_timeout_seconds = \(SambaDomain.oneShotReadTimeout)

            """.write(toFile: config, atomically: true, encoding: .utf8)
            let shown = await client.run(["policy", "show", "--effective", "--json"], config: config)
            let report = try #require(
                try? JSONSerialization.jsonObject(with: Data(shown.output.utf8)) as? [String: Any],
                "\(shown.output)"
            )
            let directory = try #require(DirectoryClient.source(report, "directory"), "\(shown.output)")
            #expect(directory["state"] as? String == "in-effect", "\(shown.output)")
            #expect(directory["policyName"] as? String == policies[winner]!.name)
            let ours = ((directory["directory"] as? [String: Any])?["appliedGPOs"] as? [String]) ?? []
            let samba = try await domain.sambaGPOList(label.uppercased() + "$")
            // samba-tool 4.17 takes a computer for a user here and filters on the user-disable bit, so
            // it lists the GPO whose computer settings are disabled; Group Policy does not apply it.
            #expect(!ours.contains("CompOff \(tag)"))
            #expect(
                Set(ours.filter { $0 != "Site \(tag)" }) == Set(samba.filter { $0 != "CompOff \(tag)" }),
                "ours: \(ours), samba-tool: \(samba)"
            )
            #expect(ours.contains("Site \(tag)") == inSite, "\(ours)")
            #expect(ours.first == "\(winner) \(tag)", "\(ours)")
            #expect(!ours.contains("Denied \(tag)") && !ours.contains("Disabled \(tag)"))
        }
    }

    // MARK: - Refresh: a moved computer

    /// The computer moved to another OU gets that OU's policy at the next group-policy refresh (the timer,
    /// here every minute).
    @Test func movedComputerGetsTheNewOUsPolicyAtTheNextRefresh() async throws {
        let domain = try self.domain
        let client = try await domain.client("move")
        let first = BlockPortPolicy(name: "Sales \(client.name)", port: 4001)
        let second = BlockPortPolicy(name: "Lab \(client.name)", port: 4002)
        try await domain.upload(first.xml)
        try await domain.upload(second.xml)
        _ = try await assign(first.dn, to: client, ou: "Sales")
        let lab = "OU=Lab-\(client.name),\(SambaDomain.base)"
        let gpo = SambaDomain.guid()
        try await domain.admin([
            "ou|\(lab)", "gpo|\(gpo)|Lab GPO \(client.name)|0", "link|\(lab)|\(SambaDomain.gpLink([(gpo, 0)]))|",
            "assign|\(gpo)|\(second.dn)",
        ])
        try client.configure(extra: ["group_policy_refresh_minutes = 1"])
        try await withService(client) {
            try await client.waitFor("directory", first.name)
            try await domain.admin([
                "move|CN=\(client.name.uppercased()),OU=Sales-\(client.name),\(SambaDomain.base)|\(lab)"
            ])
            try await client.waitFor("directory", second.name, timeout: .seconds(150))
            #expect(client.serviceLog().contains("(group policy refresh)"))
            let (_, details) = await client.directoryState()
            #expect(details["computerDN"] as? String == "CN=\(client.name.uppercased()),\(lab)")
        }
    }

    // MARK: - Failures

    /// The DC stopped (samba's ports refused) and then the DC's link down: the cached copy applies within
    /// the timeout (`service refresh` returns in seconds); when the DC is back, a refresh, and after the
    /// link's return the next poll (the retry schedule, capped at the policy's interval), bring the live
    /// policy back.
    @Test func unreachableDCAppliesTheCacheAndTheLivePolicyReturns() async throws {
        let domain = try self.domain
        let client = try await domain.client("down")
        let policy = BlockPortPolicy(name: "Down \(client.name)", port: 4100, pollingSeconds: 60)
        try await domain.upload(policy.xml)
        _ = try await assign(policy.dn, to: client, ou: "Down")
        // Short: with the link down, the DNS lookup of the DC waits the whole timeout.
        try client.configure(timeout: 2)
        try await withService(client) {
            try await client.waitFor("directory", policy.name)

            // Samba stopped: DNS, Kerberos and LDAP refused; the cached copy at once.
            await client.refuseDC(true)
            let refused = await client.refresh()
            #expect(refused.status == 0, "\(refused.output)")
            try await client.waitFor("directory-cache", policy.name, timeout: .seconds(120))
            #expect((await client.directoryState().details["failure"] as? String)?.isEmpty == false)
            await client.refuseDC(false)
            await client.refresh()
            try await client.waitFor("directory", policy.name)

            // The DC's link down: nothing answers at all; the cached copy within the timeout.
            await client.link(up: false)
            let clock = ContinuousClock()
            let started = clock.now
            await client.refresh()
            #expect(clock.now - started < .seconds(20))
            try await client.waitFor("directory-cache", policy.name, timeout: .seconds(120))
            let (state, details) = await client.directoryState()
            #expect(state == "unavailable")
            #expect((details["failure"] as? String)?.isEmpty == false, "\(details)")
            #expect(client.serviceLog().contains("IPSECSVC_DECISION=unavailable"))
            await client.link(up: true)
            try await client.waitFor("directory", policy.name, timeout: .seconds(150))
        }
    }

    /// A DC that completes the TCP handshake and then never answers: the read gives up after the
    /// timeout, the service answers `status` meanwhile, and the cached copy applies; SIGTERM during such
    /// a read stops the service without waiting for it.
    @Test func dcThatAcceptsButNeverAnswersAppliesTheCacheAfterTheTimeout() async throws {
        let domain = try self.domain
        let client = try await domain.client("hang")
        let policy = BlockPortPolicy(name: "Hang \(client.name)", port: 4200)
        try await domain.upload(policy.xml)
        _ = try await assign(policy.dn, to: client, ou: "Hang")
        // The silent DC holds a read for at least the timeout: long enough that a `status` asked after
        // the refresh answers before it, on a loaded machine too, unless it waits for the read.
        let timeout = 8
        try client.configure(timeout: timeout)
        try await withService(client) {
            try await client.waitFor("directory", policy.name)
            await client.hangLDAP(true)
            let clock = ContinuousClock()
            let started = clock.now
            let refreshed = Task {
                await client.refresh()
                return clock.now
            }
            // While the read waits for the silent DC, the service still answers.
            try await Task.sleep(for: .milliseconds(500))
            #expect(await client.status()?["state"] as? String == "RUNNING")
            let answered = clock.now
            let refreshEnded = await refreshed.value
            #expect(answered < refreshEnded, "status answered \(refreshEnded - answered) after the refresh ended")
            // At most the whole read's bound (6 timeouts), and the command's own start and stop.
            #expect(refreshEnded - started < .seconds(6 * timeout + 10))
            try await client.waitFor("directory-cache", policy.name, timeout: .seconds(120))
            let (_, details) = await client.directoryState()
            #expect((details["failure"] as? String)?.contains("no answer within the timeout") == true, "\(details)")
            await client.hangLDAP(false)
            await client.refresh()
            try await client.waitFor("directory", policy.name)
        }

        // SIGTERM while a read waits for the silent DC: a clean stop that does not wait for the read. The
        // read began before the signal at a time known only to within the polls below (up to 20 s), so it
        // gets a timeout far longer than the bound on the stop, and so does the stop (whose own timeout
        // would otherwise end a wait at 10 s): a stop that waited for the read would still sleep through
        // at least 60 - 20 s of it.
        try client.configure(timeout: 60, stopTimeout: 90)
        try await withService(client) {
            try await client.waitFor("directory", policy.name)
            await client.hangLDAP(true)
            try await Task.sleep(for: .seconds(1.1))  // `lastAttempt` counts whole seconds
            let before = await client.directoryState().details["lastAttempt"] as? Int ?? 0
            client.hangUp()
            let reading = await eventually(timeout: .seconds(20), interval: .milliseconds(200)) {
                (await client.directoryState().details["lastAttempt"] as? Int ?? 0) > before
            }
            #expect(reading, "the SIGHUP started no read")
            let (status, took) = await client.stop()
            #expect(status?.succeeded == true, "\(String(describing: status)): \(client.serviceLog().suffix(3000))")
            // The stop's own time (less its waits for a CPU, which a loaded machine adds; a stop that waits
            // for the read sleeps, which stays in): one that waited for the read would take 40 s or more.
            print("LiveDirectoryTests: SIGTERM during a silent DC's read: \(took.map { "\($0)" } ?? "no exit")")
            let own = took?.own ?? .seconds(120)
            #expect(own < .seconds(15), "the stop took \(took.map { "\($0)" } ?? "over 120 s")")
            #expect(!client.serviceLog().contains("Fatal error"))
        }
    }

    /// Windows' outcomes: the GPO deleted without unassigning (its link left behind) and the assigned
    /// policy deleted keep the cached copy; an explicit unassignment deletes the cache and the local
    /// policy applies.
    @Test func deletedGPODeletedPolicyAndRemovedAssignment() async throws {
        let domain = try self.domain
        let client = try await domain.client("del")
        let policies = (1...3).map { BlockPortPolicy(name: "Deleted \($0) \(client.name)", port: 4300 + $0) }
        for policy in policies { try await domain.upload(policy.xml) }
        let (ou, gpo) = try await assign(policies[0].dn, to: client, ou: "Deleted")
        try client.configure()
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let local = repository.appendingPathComponent("policies-xml/block-telnet-smb.xml").path
        try await withService(client) {
            try await client.waitFor("directory", policies[0].name)
            let imported = await shell(
                "'\(SambaDomain.executable)' policy import '\(local)' --store local --assign 'Block Telnet and SMB' "
                    + "--config '\(client.config)' 2>&1"
            )
            #expect(imported.status == 0, "\(imported.output)")

            // The GPO deleted, its link left on the OU: the cached copy. SIGHUP refreshes at once (the
            // group-policy refresh is 90 minutes away).
            try await domain.admin(["delete|\(SambaDomain.gpoDN(gpo))"])
            client.hangUp()
            try await client.waitFor("directory-cache", policies[0].name)
            #expect((await client.directoryState().details["failure"] as? String)?.contains(gpo) == true)

            // A new GPO, the only one linked to the OU, assigns `policy`; a refresh applies it.
            func linkNewGPO(_ label: String, assigning policy: BlockPortPolicy) async throws -> String {
                let gpo = SambaDomain.guid()
                try await domain.admin([
                    "gpo|\(gpo)|\(label) GPO \(client.name)|0", "link|\(ou)|\(SambaDomain.gpLink([(gpo, 0)]))|",
                    "assign|\(gpo)|\(policy.dn)",
                ])
                await client.refresh()
                try await client.waitFor("directory", policy.name)
                return gpo
            }

            // A new GPO assigns policy 2; then the policy object is deleted: the cached copy (of policy 2).
            _ = try await linkNewGPO("Second", assigning: policies[1])
            try await domain.admin(["delete|\(policies[1].dn)"])
            await client.refresh()
            try await client.waitFor("directory-cache", policies[1].name)

            // A third GPO assigns policy 3; then its assignment is removed: cache deleted, local applies.
            let third = try await linkNewGPO("Third", assigning: policies[2])
            try await domain.admin(["delete|CN=IPSEC,CN=Windows,CN=Microsoft,CN=Machine,\(SambaDomain.gpoDN(third))"])
            await client.refresh()
            try await client.waitFor("local", "Block Telnet and SMB")
            #expect(!FileManager.default.fileExists(atPath: "\(client.directory)/state/directory-cache.xml"))
            #expect(client.serviceLog().contains("IPSECSVC_DECISION=unassigned"))
        }
    }

    /// Objects the computer account may not read come back without `ipsecData` (Samba's default ACL on
    /// CN=IP Security, FINDINGS §2): an error naming the object, not an empty policy; the cache applies.
    @Test func unreadablePolicyIsAnErrorNamingTheObject() async throws {
        let domain = try self.domain
        let client = try await domain.client("acl")
        let readable = BlockPortPolicy(name: "Readable \(client.name)", port: 4400)
        let hidden = BlockPortPolicy(name: "Hidden \(client.name)", port: 4401)
        try await domain.upload(readable.xml)
        try await domain.upload(hidden.xml)
        let (_, gpo) = try await assign(readable.dn, to: client, ou: "Acl")
        try client.configure()
        try await withService(client) {
            try await client.waitFor("directory", readable.name)
            try await domain.admin(["deny-read|\(hidden.dn)", "assign|\(gpo)|\(hidden.dn)"])
            await client.refresh()
            try await client.waitFor("directory-cache", readable.name)
            let failure = await client.directoryState().details["failure"] as? String ?? ""
            #expect(failure.contains(hidden.dn), "\(failure)")
        }
    }

    /// The computer account's keys changed on the DC (its password reset) after the service cached the
    /// policy: after a restart the GSSAPI bind fails and the cached copy applies, the failure naming the
    /// bind.
    @Test func refusedBindAppliesTheCache() async throws {
        let domain = try self.domain
        let client = try await domain.client("bind")
        let policy = BlockPortPolicy(name: "Bind \(client.name)", port: 4700)
        try await domain.upload(policy.xml)
        _ = try await assign(policy.dn, to: client, ou: "Bind")
        try client.configure()
        try await withService(client) { try await client.waitFor("directory", policy.name) }
        let reset = await shell(
            "samba-tool user setpassword '\(client.account)' --newpassword='Changed.\(UUID().uuidString)' "
                + "-s '\(domain.work)/dc/etc/smb.conf' -H '\(domain.work)/dc/private/sam.ldb' 2>&1"
        )
        #expect(reset.status == 0, "\(reset.output)")
        try await withService(client) {
            try await client.waitFor("directory-cache", policy.name)
            let (state, details) = await client.directoryState()
            #expect(state == "unavailable")
            #expect(
                (details["failure"] as? String)?.contains("GSSAPI bind to ldap://dc1.example.test") == true,
                "\(details)"
            )
        }
    }

    /// A policy whose objects fill many pages: with `ldap_page_size = 25` the reader walks every page of
    /// its searches of CN=IP Security (a hundred rules and filter lists, besides every other test's
    /// objects) and applies all hundred filters in a few dozen requests. Reading only the first page of
    /// each search would leave ~150 objects to be read one by one (the reader's fallback for objects a
    /// search does not return), over 150 requests.
    @Test func aLargePolicyIsReadWithPagedSearches() async throws {
        let domain = try self.domain
        let client = try await domain.client("page")
        let policy = ManyRulePolicy(name: "Paged \(client.name)", rules: 100, firstPort: 5000)
        try await domain.upload(policy.xml)
        _ = try await assign(policy.dn, to: client, ou: "Paged")
        try client.configure(timeout: SambaDomain.oneShotReadTimeout, extra: ["ldap_page_size = 25"])
        let shown = await client.run(["policy", "show", "--effective", "--json"])
        let report = try #require(
            try? JSONSerialization.jsonObject(with: Data(shown.output.utf8)) as? [String: Any],
            "\(shown.output)"
        )
        let directory = try #require(DirectoryClient.source(report, "directory"), "\(shown.output)")
        #expect(directory["state"] as? String == "in-effect", "\(shown.output)")
        #expect(directory["policyName"] as? String == policy.name)
        let ports = DirectoryClient.destinationPorts(report)
        #expect(Set(ports) == Set(5000..<5100), "\(ports.count) filters")
        let details = directory["directory"] as? [String: Any] ?? [:]
        let objects = details["lastReadObjects"] as? Int ?? 0
        let requests = details["lastReadRequests"] as? Int ?? .max
        #expect(objects >= 100 + 100 + 3, "\(details)")
        #expect(requests < 100, "\(details)")
    }

    // MARK: - What Samba provisions, export, simple bind

    /// The three Windows default policies every domain has (Samba provisions them, ipsecDataType 598) are
    /// read and applied when a GPO assigns them.
    @Test func windowsDefaultPoliciesOfTheDomainAreRead() async throws {
        let domain = try self.domain
        let client = try await domain.client("dflt")
        let ou = "OU=Defaults-\(client.name),\(SambaDomain.base)"
        let gpo = SambaDomain.guid()
        try await domain.admin([
            "ou|\(ou)", "gpo|\(gpo)|Defaults GPO \(client.name)|0", "link|\(ou)|\(SambaDomain.gpLink([(gpo, 0)]))|",
            "move|\(client.computerDN)|\(ou)",
        ])
        try client.configure()
        let defaults = [
            ("{7238523C-70FA-11D1-864C-14A300000000}", "Secure Server (Require Security)", 2),
            ("{72385230-70FA-11D1-864C-14A300000000}", "Server (Request Security)", 2),
            ("{72385236-70FA-11D1-864C-14A300000000}", "Client (Respond Only)", 0),
        ]
        let type = await shell(
            "ldbsearch -H '\(domain.work)/dc/private/sam.ldb' -b '\(SambaDomain.policyDN(defaults[0].0))' -s base "
                + "ipsecDataType 2>/dev/null | awk '/^ipsecDataType/ {print $2}'"
        )
        #expect(type.output.trimmingCharacters(in: .whitespacesAndNewlines) == "598")
        try await withService(client) {
            for (guid, name, filters) in defaults {
                try await domain.admin(["assign|\(gpo)|\(SambaDomain.policyDN(guid))"])
                await client.refresh()
                try await client.waitFor("directory", name)
                #expect(await client.effectivePorts().count == filters, "\(name)")
            }
        }
    }

    /// `policy export --from-directory` writes the objects read as LDIF; `directory = snapshot` on that
    /// file gives the same policy offline. The export reads from the second configured DC when the
    /// first refuses.
    @Test func exportFromDirectoryReproducesTheCaseOffline() async throws {
        let domain = try self.domain
        let client = try await domain.client("exp")
        let policy = BlockPortPolicy(name: "Export \(client.name)", port: 4500)
        try await domain.upload(policy.xml)
        let (ou, _) = try await assign(policy.dn, to: client, ou: "Export")
        // Configured DCs are tried in order: nothing listens on the first one's port.
        try client.configure(
            timeout: SambaDomain.oneShotReadTimeout,
            extra: ["domain_controllers = dc1.example.test:1389, dc1.example.test"]
        )
        let file = "\(client.directory)/case.ldif"
        let exported = await client.run(["policy", "export", "--from-directory", file])
        #expect(exported.status == 0, "\(exported.output)")
        #expect(exported.output.contains("read from ldap://dc1.example.test to"), "\(exported.output)")
        #expect(exported.output.contains("computer_dn = CN=\(client.name.uppercased()),\(ou)"))
        let offline = "\(client.directory)/offline.conf"
        try """
        state_dir = \(client.directory)/offline-state
        socket = \(client.directory)/offline.sock
        systemd = no
        driver = memory
        directory = snapshot
        directory_snapshot = \(file)
        computer_dn = CN=\(client.name.uppercased()),\(ou)

        """.write(toFile: offline, atomically: true, encoding: .utf8)
        let shown = await shell("'\(SambaDomain.executable)' policy show --effective --config '\(offline)' 2>&1")
        #expect(shown.status == 0, "\(shown.output)")
        #expect(shown.output.contains("directory          in-effect      \"\(policy.name)\""), "\(shown.output)")
        #expect(shown.output.contains("me:4500 TCP"), "\(shown.output)")
    }

    /// The documented alternative to GSSAPI: a simple bind as the computer account over StartTLS and
    /// over LDAPS, with the DC's CA, to a configured DC; a wrong CA fails with the TLS error.
    @Test func simpleBindOverStartTLSAndLDAPS() async throws {
        let domain = try self.domain
        let client = try await domain.client("tls")
        let policy = BlockPortPolicy(name: "TLS \(client.name)", port: 4600)
        try await domain.upload(policy.xml)
        _ = try await assign(policy.dn, to: client, ou: "Tls")
        // samba-tool computer create --prepare-oldjoin sets the password to the name in lower case.
        let password = "\(client.directory)/bind-password"
        try (client.name.lowercased() + "\n").write(toFile: password, atomically: true, encoding: .utf8)
        for (tls, ca, works) in [
            ("starttls", "\(domain.work)/dc/private/tls/ca.pem", true),
            ("ldaps", "\(domain.work)/dc/private/tls/ca.pem", true),
            ("starttls", "\(client.directory)/wrong-ca.pem", false),
        ] {
            if !works { try "not a certificate\n".write(toFile: ca, atomically: true, encoding: .utf8) }
            try client.configure(
                timeout: SambaDomain.oneShotReadTimeout,
                extra: [
                    "ldap_bind = simple", "ldap_bind_dn = \(client.account)@\(SambaDomain.domain)",
                    "ldap_bind_password_file = \(password)", "ldap_tls = \(tls)", "ldap_tls_ca_file = \(ca)",
                    "domain_controllers = dc1.example.test",
                ]
            )
            let shown = await client.run(["policy", "show", "--effective"])
            if works {
                #expect(
                    shown.output.contains("directory          in-effect      \"\(policy.name)\""),
                    "\(tls): \(shown.output)"
                )
            } else {
                #expect(shown.output.contains("directory          unavailable"), "\(shown.output)")
            }
        }
    }
}
