import Foundation
import IPsecTestKit
import Testing

/// The shipped policies (`policies-xml/*.xml`).
private let shippedPolicies: [String] = {
    let directory = IPsecSvcProcess.packageRoot.appendingPathComponent("policies-xml")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".xml") }.sorted().map { directory.appendingPathComponent($0).path }
}()

/// End-to-end runs through the native XML reader and writer (always built in).
@Suite struct PolicyCLIXMLTests {

    /// A valid store: one policy with a PSK rule and the default response rule.
    static let valid = """
        <?xml version="1.0" encoding="UTF-8"?>
        <policyStore xmlns="urn:ipsecsvc:policy:1" version="1" assignedPolicy="{00000000-0000-4000-8000-000000000001}">
          <filterList id="{00000000-0000-4000-8000-000000000010}" name="Mgmt">
            <filter id="{00000000-0000-4000-8000-000000000011}" mirrored="true" protocol="tcp" destinationPort="22">
              <source><me/></source>
              <destination><subnet address="198.18.0.0" mask="255.255.255.0"/></destination>
            </filter>
          </filterList>
          <filterAction id="{00000000-0000-4000-8000-000000000020}" name="Require Security" action="negotiate" inpass="true" soft="false" type="standard">
            <offer lifetimeSeconds="3600" lifetimeKilobytes="100000" pfs="false"><esp encryption="3DES" integrity="SHA1"/></offer>
          </filterAction>
          <filterAction id="{00000000-0000-4000-8000-000000000021}" action="negotiate" inpass="false" soft="false" type="default-response">
            <offer lifetimeSeconds="0" lifetimeKilobytes="0" pfs="false"><ah integrity="SHA1"/></offer>
          </filterAction>
          <policy id="{00000000-0000-4000-8000-000000000001}" name="Lockdown" pollingIntervalSeconds="10800">
            <mainMode id="{00000000-0000-4000-8000-000000000002}" masterKeyPFS="false" quickModeLimit="0" lifetimeSeconds="28800" certificateToAccountMapping="false" omitCertificateRequest="false">
              <securityMethod encryption="3DES" integrity="SHA1" group="2" quickModeLimit="0" lifetimeKilobytes="0" lifetimeSeconds="28800"/>
            </mainMode>
            <rule id="{00000000-0000-4000-8000-000000000003}" name="Mgmt" filterAction="{00000000-0000-4000-8000-000000000020}" interface="all" active="true" defaultResponse="false">
              <filterListRef filterList="{00000000-0000-4000-8000-000000000010}"/>
              <preSharedKey key="s3cret"/>
            </rule>
            <rule id="{00000000-0000-4000-8000-000000000004}" filterAction="{00000000-0000-4000-8000-000000000021}" interface="all" active="true" defaultResponse="true">
              <kerberos/>
            </rule>
          </policy>
        </policyStore>

        """

    private func write(_ text: String, name: String, in directory: TemporaryDirectory) throws -> String {
        directory.write(name, text)
    }

    @Test func shippedPoliciesAreValid() async throws {
        let files = shippedPolicies
        try #require(!files.isEmpty, "no policies-xml/*.xml in \(IPsecSvcProcess.packageRoot.path)")
        let result = try await IPsecSvcProcess.run(["policy", "validate"] + files)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.isEmpty)
        let lines = result.standardOutput.split(separator: "\n")
        #expect(lines.count == files.count)
        #expect(lines.allSatisfy { $0.contains(": valid (") })
    }

    @Test(.enabled(if: !shippedPolicies.isEmpty, "no policies-xml/*.xml yet"))
    func shippedPoliciesRoundTripByteForByte() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        for file in shippedPolicies {
            let output = directory.file(URL(fileURLWithPath: file).lastPathComponent)
            let result = try await IPsecSvcProcess.run(["policy", "convert", file, output])
            #expect(result.status == 0, "\(file): \(result.standardError)")
            #expect(
                FileManager.default.contents(atPath: output) == FileManager.default.contents(atPath: file),
                "\(file)"
            )
        }
    }

    @Test func validFileAndEveryOutput() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let path = try write(Self.valid, name: "lockdown.xml", in: directory)

        let validate = try await IPsecSvcProcess.run(["policy", "validate", path])
        #expect(validate.status == 0, "\(validate.standardError)")
        #expect(validate.standardOutput == "\(path): valid (1 policy, 1 filter list, 2 filter actions)\n")

        let show = try await IPsecSvcProcess.run(["policy", "show", path])
        #expect(show.status == 0)
        #expect(show.standardOutput.contains("    Destination Port        : 22\n"))
        #expect(show.standardOutput.contains("  Default Response Rule\n"))

        let json = try await IPsecSvcProcess.run(["policy", "show", "--json", path])
        #expect(json.status == 0)
        let document = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        #expect(document?["formatVersion"] as? Int == 1)

        // Standard input in, standard output out: the writer's normal form reads back unchanged.
        let normal = try await IPsecSvcProcess.run(
            ["policy", "convert", "-", "-", "--from", "xml", "--format", "xml"],
            input: Data(Self.valid.utf8)
        )
        #expect(normal.status == 0, "\(normal.standardError)")
        // Without --format, standard output gets the format IN was read in (here sniffed).
        let again = try await IPsecSvcProcess.run(
            ["policy", "convert", "-", "-"],
            input: Data(normal.standardOutput.utf8)
        )
        #expect(again.status == 0, "\(again.standardError)")
        #expect(again.standardOutput == normal.standardOutput)
    }

    @Test func everyProblemIsPrintedWithFileAndLocation() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let broken = Self.valid
            .replacingOccurrences(of: "protocol=\"tcp\"", with: "protocol=\"icmp\"")
            .replacingOccurrences(of: "198.18.0.0", with: "198.18.0.7")
            .replacingOccurrences(
                of: "filterAction=\"{00000000-0000-4000-8000-000000000021}\"",
                with: "filterAction=\"{00000000-0000-4000-8000-000000000020}\""
            )
        let bad = try write(broken, name: "broken.xml", in: directory)
        let good = try write(Self.valid, name: "good.xml", in: directory)

        let result = try await IPsecSvcProcess.run(["policy", "validate", bad, good])
        #expect(result.status == 1)
        #expect(
            result.errorLines == [
                "\(bad): policy \"Lockdown\" › default response rule › filter action: filter action "
                    + "\"Require Security\" must have type default-response",
                "\(bad): filter list \"Mgmt\" › filter 1 › destinationPort: ports need protocol TCP or UDP, not ICMP",
                "\(bad): filter list \"Mgmt\" › filter 1 › destination: 198.18.0.7 has host bits set for mask "
                    + "255.255.255.0 (the subnet is 198.18.0.0)",
            ]
        )
        #expect(result.standardOutput == "\(good): valid (1 policy, 1 filter list, 2 filter actions)\n")

        let output = directory.file("out.xml")
        let convert = try await IPsecSvcProcess.run(["policy", "convert", bad, output])
        #expect(convert.status == 1)
        #expect(
            convert.errorLines.last
                == "\(output): not written: the policy has problems (see above; --allow-invalid writes anyway)"
        )
        #expect(!FileManager.default.fileExists(atPath: output))
        let forced = try await IPsecSvcProcess.run(["policy", "convert", "--allow-invalid", bad, output])
        #expect(forced.status == 0)
        #expect(FileManager.default.fileExists(atPath: output))
    }

    @Test func schemaErrorsNameLineAndColumn() async throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-cli")
        defer { directory.remove() }
        let path = try write(
            Self.valid.replacingOccurrences(of: "<kerberos/>", with: "<kerberos/><bogus/>"),
            name: "schema.xml",
            in: directory
        )
        let result = try await IPsecSvcProcess.run(["policy", "validate", path])
        #expect(result.status == 1)
        #expect(result.errorLines.count == 1)
        #expect(result.errorLines.first?.hasPrefix("\(path):") == true)
        #expect(result.errorLines.first?.contains("bogus") == true, "\(result.standardError)")
    }
}
