import Foundation
import IPsecTestKit
import PolicyFormats
import Testing

@testable import Providers

/// The live reader's network behaviour without a domain controller: a server that accepts and never
/// answers, a port nobody listens on; and its small pure parts (DC URIs, account name, subnets, filter
/// escaping). The reader against a real Samba DC: IntegrationTests/LiveDirectoryTests.
@Suite struct LDAPReaderTests {
    /// A TCP listener on 127.0.0.1 that completes handshakes (the kernel's backlog) and never reads.
    final class SilentServer {
        let fd: Int32
        let port: UInt16

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0, listen(fd, 16) == 0 else {
                close(fd)
                throw ListenFailure()
            }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            port = UInt16(bigEndian: address.sin_port)
        }

        deinit { close(fd) }
    }

    struct ListenFailure: Error {}

    func simpleReader(_ hosts: [String], timeout: Duration, dir: TemporaryDirectory) -> LDAPDirectoryReader {
        dir.write("password", "secret\n")
        return LDAPDirectoryReader(
            configuration: LDAPDirectoryConfiguration(
                domain: "example.test",
                domainControllers: hosts,
                bind: .simple(dn: "HOST$@example.test", passwordFile: dir.path + "/password"),
                transport: .startTLS,
                timeout: timeout
            )
        )
    }

    @Test(.timeLimit(.minutes(1)))
    func aServerThatAcceptsButNeverAnswersTimesOut() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let server = try SilentServer()
        // Two such "DCs": each costs the timeout, then the read gives up with both named.
        let reader = simpleReader(
            ["127.0.0.1:\(server.port)", "localhost:\(server.port)"],
            timeout: .seconds(1),
            dir: dir
        )
        let clock = ContinuousClock()
        let started = clock.now
        let error = await #expect(throws: DirectoryReadError.self) { try await reader.readForGroupPolicy() }
        let elapsed = clock.now - started
        #expect(elapsed >= .milliseconds(1900), "\(elapsed)")
        #expect(elapsed < .seconds(6 + 5), "bounded by the read's deadline (6 × timeout), with room for load")
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("no answer within the timeout") == true, "\(String(describing: error))")
        #expect(error?.message.contains("ldap://127.0.0.1:\(server.port)") == true)
        #expect(error?.message.contains("ldap://localhost:\(server.port)") == true)
    }

    @Test(.timeLimit(.minutes(1)))
    func aPortNobodyListensOnFailsAtOnce() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let port: UInt16
        do {
            let probe = try SilentServer()
            port = probe.port
        }
        let reader = simpleReader(["127.0.0.1:\(port)"], timeout: .seconds(5), dir: dir)
        let error = await #expect(throws: DirectoryReadError.self) { try await reader.readForGroupPolicy() }
        #expect(error?.message.contains("Can't contact LDAP server") == true, "\(String(describing: error))")
    }

    @Test func domainControllerURIs() {
        let plain = LDAPDirectoryConfiguration(domain: "example.test")
        #expect(
            plain.uris(hosts: ["dc1.example.test:389", "dc2.example.test:3268", "ldaps://dc3.example.test"])
                == ["ldap://dc1.example.test", "ldap://dc2.example.test:3268", "ldaps://dc3.example.test"]
        )
        let ldaps = LDAPDirectoryConfiguration(domain: "example.test", transport: .ldaps)
        #expect(
            ldaps.uris(hosts: ["dc1.example.test:389", "dc2.example.test"]) == [
                "ldaps://dc1.example.test:636", "ldaps://dc2.example.test:636",
            ]
        )
        #expect(plain.readDeadline == .seconds(60))
    }

    @Test func accountNameFromTheBoundIdentity() {
        #expect(LDAPRead.accountName(boundAs: "CLIENT1$@EXAMPLE.TEST") == "CLIENT1$")
        #expect(LDAPRead.accountName(boundAs: "EXAMPLE\\CLIENT2$") == "CLIENT2$")
        // A user's bind (simple bind as an administrator) says nothing: the host's name decides.
        let fromHost = LDAPRead.accountName(boundAs: "CN=Administrator,CN=Users,DC=example,DC=test")
        #expect(fromHost.hasSuffix("$") && fromHost.count <= 16 && fromHost == fromHost.uppercased())
    }

    @Test func subnetPrefixes() {
        #expect(LDAPRead.prefix("198.19.7.0/24").map { [$0.0, UInt32($0.1)] } == [0xC613_0700, 24])
        #expect(LDAPRead.prefix("10.0.0.0/33") == nil)
        #expect(LDAPRead.prefix("10.0.0/8") == nil)
    }

    @Test func filterValuesAreEscaped() {
        #expect(LDAPFilter.escape("CLIENT1$") == "CLIENT1$")
        #expect(LDAPFilter.escape("a*(b)\\c") == "a\\2a\\28b\\29\\5cc")
        // UTF-8 stays UTF-8 (a computer named in German, RFC 4515 §3).
        #expect(LDAPFilter.escape("MÜNCHEN$") == "MÜNCHEN$")
        #expect(LDAPFilter.escape("a\u{0}b") == "a\\00b")
    }
}
