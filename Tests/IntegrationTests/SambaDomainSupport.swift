import Foundation
import IPsecSystem
import Synchronization
import Testing

/// A real Samba AD domain controller (EXAMPLE.TEST) for the live-directory tests, provisioned once per
/// test process in a network namespace of its own (`ipsdir-<pid>`, addresses 198.19.N.0/24 on a bridge
/// inside it) by `Fixtures/samba-dc.sh`, and torn down after the suite. Every test makes its own client
/// namespace, computer account, OUs, GPOs and policies, so the tests run in parallel on one DC.
final class SambaDomain: Sendable {
    static let base = "DC=example,DC=test"
    static let domain = "example.test"
    static let ipSecurity = "CN=IP Security,CN=System," + base
    /// `ldap_timeout_seconds` of the clients, except in the tests of a silent or unreachable DC: long
    /// enough for a DC slowed down by a loaded 2-core machine (samba answers a dozen clients at once).
    static let ldapTimeout = 10
    /// `ldap_timeout_seconds` of a one-shot read (`policy show --effective`, `policy export
    /// --from-directory`): a hang guard. A running service reads again at its retry schedule when one
    /// answer is late; a one-shot read fails for good. The one DC serves a dozen tests at once with two
    /// prefork LDAP workers, while their set-up writes go straight into its sam.ldb (samba-admin.py): with
    /// the whole suite starting at once at load 30, a bind was once not answered within 10 s
    /// (simpleBindOverStartTLSAndLDAPS, a one-shot `policy show`).
    static let oneShotReadTimeout = 60

    let work: String
    let namespace: String
    /// The /24 prefix (`198.19.7`); the DC is `.1`.
    let net: String
    private let counter = Atomic<Int>(0)

    static var fixtures: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }

    static var executable: String {
        URL(fileURLWithPath: DriverTestEnvironment.harnessPath).deletingLastPathComponent()
            .appendingPathComponent("ipsecsvc").path
    }

    /// Why the suite cannot run here (`nil`: it can). Checked before anything is provisioned.
    static var unavailableReason: String? {
        guard getuid() == 0 else { return "needs root (network namespaces, a Samba DC)" }
        let tools = ["samba", "samba-tool", "ldbsearch", "ldapsearch", "klist", "ip", "nc", "iptables", "unshare"]
        let missing = tools.filter { tool in
            !["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"].contains {
                FileManager.default.isExecutableFile(atPath: $0 + tool)
            }
        }
        if !missing.isEmpty {
            return "missing \(missing.joined(separator: ", ")) (install samba samba-ad-dc samba-ad-provision "
                + "winbind krb5-user ldb-tools ldap-utils python3-samba bind9-dnsutils iproute2 netcat-openbsd)"
        }
        guard FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/samba/samdb.py") else {
            return "python3-samba is not installed"
        }
        guard FileManager.default.fileExists(atPath: "/usr/share/samba/setup/provision.ldif") else {
            return "samba-ad-provision is not installed"
        }
        guard FileManager.default.isExecutableFile(atPath: executable) else { return "ipsecsvc is not built" }
        return nil
    }

    private init() {
        let pid = getpid()
        namespace = "ipsdir-\(pid)"
        work = NSTemporaryDirectory() + "ipsdir-\(pid)"
        net = "198.19.\(1 + Int(pid) % 250)"
    }

    /// Provisions the domain, runs `body`, tears everything down (also when `body` throws).
    static func with(_ body: (SambaDomain) async throws -> Void) async throws {
        await removeStale()
        let domain = SambaDomain()
        // Provisioning and the first start take minutes on a loaded machine (three at load 30): the
        // script waits while samba lives; this bound only guards against a hang.
        let up = await domain.script(["up"], timeout: .seconds(1200))
        guard up.status == 0 else {
            await domain.script(["down"])
            throw TestFailure("the Samba DC did not start: \(up.output)")
        }
        do {
            try await body(domain)
        } catch {
            await domain.script(["down"])
            throw error
        }
        await domain.script(["down"])
    }

    /// Removes what an earlier test process left behind when it died before its teardown.
    static func removeStale() async {
        await shell(
            """
            for ns in $(ip netns list | awk '/^ipsdir-[0-9]+ / || /^ipsdir-[0-9]+$/ {print $1}'); do
                owner=${ns#ipsdir-}
                if [ "$owner" != "\(getpid())" ] && ! kill -0 "$owner" 2>/dev/null; then
                    W=\(NSTemporaryDirectory())$ns NS=$ns \(fixtures)/samba-dc.sh down >/dev/null 2>&1
                fi
            done
            """
        )
    }

    /// Runs `samba-dc.sh` for this domain.
    @discardableResult
    func script(_ arguments: [String], timeout: Duration = .seconds(180)) async -> Outcome {
        let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
        return await shell(
            "W='\(work)' NS='\(namespace)' NET='\(net)' '\(Self.fixtures)/samba-dc.sh' \(quoted) 2>&1",
            timeout: timeout
        )
    }

    /// Runs administrator commands (`Fixtures/samba-admin.py`, one per line) on the DC's database.
    func admin(_ commands: [String]) async throws {
        let file = "\(work)/admin-\(UUID().uuidString).txt"
        try commands.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = await shell(
            "/usr/bin/python3 '\(Self.fixtures)/samba-admin.py' '\(work)/dc/etc/smb.conf' "
                + "'\(work)/dc/private/sam.ldb' < '\(file)' 2>&1"
        )
        guard result.status == 0 else { throw TestFailure("samba-admin failed: \(result.output)") }
    }

    /// Puts a policy (native XML) into CN=IP Security through `ipsecsvc policy convert`: the same objects
    /// and `ipsecData` blobs Windows writes. Existing objects are modified in place.
    func upload(_ xml: String) async throws {
        let name = "\(work)/policy-\(UUID().uuidString)"
        try xml.write(toFile: name + ".xml", atomically: true, encoding: .utf8)
        let converted = await shell(
            "'\(Self.executable)' policy convert '\(name).xml' '\(name).ldif' --base-dn \(Self.base) 2>&1"
        )
        guard converted.status == 0 else { throw TestFailure("policy convert failed: \(converted.output)") }
        try await admin(["load|\(name).ldif"])
    }

    /// `samba-tool gpo list ACCOUNT$`: the GPO display names Samba applies to the account.
    func sambaGPOList(_ account: String) async throws -> [String] {
        let result = await shell(
            "samba-tool gpo list '\(account)' -s '\(work)/dc/etc/smb.conf' -H '\(work)/dc/private/sam.ldb' 2>&1"
        )
        guard result.status == 0 else { throw TestFailure("samba-tool gpo list failed: \(result.output)") }
        return result.output.split(separator: "\n").dropFirst().compactMap { line in
            // "    Display Name {GUID}"
            let text = line.trimmingCharacters(in: .whitespaces)
            guard let brace = text.lastIndex(of: "{") else { return nil }
            return String(text[..<brace]).trimmingCharacters(in: .whitespaces)
        }
    }

    /// `whenChanged` of an object, from the DC's database.
    func whenChanged(_ dn: String) async -> String? {
        let result = await shell(
            "ldbsearch -H '\(work)/dc/private/sam.ldb' -b '\(dn)' -s base whenChanged 2>/dev/null | "
                + "awk '/^whenChanged:/ {print $2}'"
        )
        let text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// A new client: its namespace on the DC's bridge, its computer account and keytab.
    func client(_ label: String) async throws -> DirectoryClient {
        let n = counter.add(1, ordering: .relaxed).newValue
        let name = "\(label)\(n)"
        let address = "\(net).\(10 + n)"
        let made = await script(["client", name, address])
        guard made.status == 0 else { throw TestFailure("client \(name) could not be made: \(made.output)") }
        return DirectoryClient(domain: self, name: name, address: address)
    }

    /// One more computer account (`NAME$`) with its keytab in `directory`; returns the keytab's path.
    func account(_ name: String, in directory: String) async throws -> String {
        let made = await script(["account", name, directory])
        guard made.status == 0 else { throw TestFailure("account \(name) could not be made: \(made.output)") }
        return "\(directory)/\(name).keytab"
    }

    /// A fresh GUID in braces, upper case as Active Directory writes GPO names.
    static func guid() -> String { "{\(UUID().uuidString)}" }

    /// A GPO's DN.
    static func gpoDN(_ guid: String) -> String { "CN=\(guid),CN=Policies,CN=System,\(base)" }

    /// An `ipsecPolicy` object's DN.
    static func policyDN(_ guid: String) -> String { "CN=ipsecPolicy\(guid),\(ipSecurity)" }

    /// `gPLink` text for links given in link order (the first wins): stored lowest precedence first.
    static func gpLink(_ links: [(guid: String, options: Int)]) -> String {
        links.reversed().map { "[LDAP://\(gpoDN($0.guid));\($0.options)]" }.joined()
    }
}

/// Runs `command` with bash to completion (at most `timeout`), output and error together. Through
/// IPsecSystem's `ChildProcess`: a command that leaves a daemon behind (samba) must not keep the test
/// waiting. On a thread of its own, like the driver tests' `sh`: a provisioning that takes minutes on a
/// loaded machine must not hold one of the blocking pool's few threads, which every suite's file reads
/// and directory reads share.
@discardableResult
func shell(_ command: String, timeout: Duration = .seconds(180)) async -> Outcome {
    let run = Command(
        "/bin/bash",
        ["-c", command],
        standardOutput: .capture,
        standardError: .sameAsOutput,
        grouping: .newGroup
    )
    do {
        return try await DedicatedThread.run(name: "test-bash") {
            do {
                let result = try ChildProcess.runBlocking(run, timeout: timeout)
                return Outcome(status: result.status.shellStatus, output: result.outputText)
            } catch {
                return Outcome(status: -1, output: "\(command): \(error)")
            }
        }
    } catch {
        return Outcome(status: -1, output: "\(command): \(error)")
    }
}

/// Provisions the Samba domain once around the suite it is applied to.
struct SambaDomainTrait: SuiteTrait, TestScoping {
    @TaskLocal static var current: SambaDomain?

    func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable @concurrent () async throws -> Void
    ) async throws {
        guard SambaDomain.unavailableReason == nil else {
            try await function()
            return
        }
        try await SambaDomain.with { domain in
            try await Self.$current.withValue(domain) { try await function() }
        }
    }
}

extension Trait where Self == SambaDomainTrait {
    /// The suite runs against one Samba AD DC provisioned for it.
    static var sambaDomain: Self { Self() }
}
