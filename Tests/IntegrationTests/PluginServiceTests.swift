import Foundation
import IPsecTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 8's "done when", against the real service: the C example plugin (Examples/c-xmldir) built with
/// cc, configured in a plugins.d file as docs/plugins.md describes, shows in `policy show --effective`,
/// `status` and `explain`; when it breaks, only its own source fails.
@Suite(.serialized) struct PluginServiceTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A native policy store with one assigned policy: one mirrored filter from `source` to `destination`
    /// (both in 198.18.0.0/15) with a block or permit action. `tag` (8 hex digits) keeps the GUIDs apart.
    static func document(tag: String, name: String, source: String, destination: String, action: String) -> String {
        func guid(_ n: Int) -> String { "{\(tag)-0000-4000-8000-0000000000\(n)}" }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <policyStore xmlns="urn:ipsecsvc:policy:1" version="1" assignedPolicy="\(guid(13))">
              <filterList id="\(guid(11))" name="\(name) hosts">
                <filter id="\(guid(21))" mirrored="true" protocol="any">
                  <source><host address="\(source)"/></source>
                  <destination><host address="\(destination)"/></destination>
                </filter>
              </filterList>
              <filterAction id="\(guid(12))" name="\(name) \(action)" action="\(action)" inpass="false" \
            soft="false" type="standard"/>
              <policy id="\(guid(13))" name="\(name) policy" pollingIntervalSeconds="10800">
                <mainMode id="\(guid(14))" masterKeyPFS="false" quickModeLimit="0" lifetimeSeconds="28800" \
            certificateToAccountMapping="false" omitCertificateRequest="false">
                  <securityMethod encryption="3DES" integrity="SHA1" group="2" quickModeLimit="0" \
            lifetimeKilobytes="0" lifetimeSeconds="28800"/>
                </mainMode>
                <rule id="\(guid(15))" name="\(name) rule" filterAction="\(guid(12))" interface="all" active="true" \
            defaultResponse="false">
                  <filterListRef filterList="\(guid(11))"/>
                  <kerberos/>
                </rule>
              </policy>
            </policyStore>

            """
    }

    /// Runs a short command (the compiler) without holding a pool thread; its output on failure.
    static func tool(_ argv: [String], in directory: String) async throws -> ProcessResult {
        let process = try ServiceProcess(argv, output: directory + "/tool-\(UUID().uuidString).out")
        let status = await process.exited(timeout: 180)
        if status == nil { await process.terminateAndWait() }
        return ProcessResult(status: status ?? -1, output: process.output)
    }

    /// The JSON object a `--json` command printed (`[:]` when it printed something else).
    static func json(_ result: ProcessResult) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(result.output.utf8))) as? [String: Any] ?? [:]
    }

    /// `status --json`: each source by name.
    static func sources(_ status: [String: Any]) -> [String: [String: Any]] {
        let list = status["sources"] as? [[String: Any]] ?? []
        return Dictionary(list.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// `policy show --effective --json`: the source of every effective filter, in merge order.
    static func filterSources(_ report: [String: Any]) -> [String] {
        let filters = (report["policy"] as? [String: Any])?["filters"] as? [[String: Any]] ?? []
        return filters.map { ($0["provenance"] as? [String: Any])?["source"] as? String ?? "" }
    }

    @Test(.timeLimit(.minutes(10)))
    func theServiceRunsAConfiguredPluginAndSurvivesItsFailure() async throws {
        let scratch = TemporaryDirectory(prefix: "ipsecsvc-plugwire")
        defer { scratch.remove() }
        let work = scratch.path
        let pluginDirectory = work + "/lib"
        let pluginsD = work + "/plugins.d"
        let policies = work + "/policies"
        for directory in [pluginDirectory, pluginsD, policies] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }

        // 1. Build: the command of docs/plugins.md §2.
        let include = Self.repository.appendingPathComponent("Sources/CIPsecPluginABI/include").path
        let source = Self.repository.appendingPathComponent("Examples/c-xmldir/xmldir.c").path
        let compiled = try await Self.tool(
            [
                "cc", "-std=c11", "-O2", "-Wall", "-shared", "-fPIC", "-fvisibility=hidden", "-I", include, "-o",
                pluginDirectory + "/libxmldir.so", source, "-lpthread",
            ],
            in: work
        )
        try #require(compiled.status == 0, "cc failed: \(compiled.output)")

        // 2. Configure: the plugin's policy in a directory, a plugins.d file (a relative path is under
        // plugin_dir), rank 25 so that the directory-like plugin replaces the local policy (rank 30).
        try Self.document(
            tag: "5e1f0c9e",
            name: "Xmldir",
            source: "198.18.0.1",
            destination: "198.18.7.1",
            action: "block"
        )
        .write(toFile: policies + "/10-site.xml", atomically: true, encoding: .utf8)
        try """
        # Examples/c-xmldir, as in docs/plugins.md §4
        path = libxmldir.so
        enabled = yes
        rank = 25
        restart-delay = 60
        option.directory = \(policies)

        """
        .write(toFile: pluginsD + "/xmldir.conf", atomically: true, encoding: .utf8)

        let sandbox = try ServiceSandbox(
            extraConfig: "plugin_dir = \(pluginDirectory)\nplugin_conf_dir = \(pluginsD)\n"
        )
        defer { sandbox.remove() }
        let common = sandbox.commonArguments
        // Persistent and local policies, imported with the service stopped.
        for (store, name, destination) in [
            ("persistent", "Persistent", "198.18.5.1"), ("local", "Local", "198.18.6.1"),
        ] {
            let file = work + "/\(store).xml"
            let tag = store == "persistent" ? "5e2f0c9e" : "5e3f0c9e"
            try Self.document(tag: tag, name: name, source: "198.18.0.1", destination: destination, action: "permit")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let imported = try await sandbox.execute(
                ["policy", "import", file, "--store", store, "--assign", "\(name) policy"] + common
            )
            try #require(imported.status == 0, "import \(store): \(imported.output)")
        }

        // 3. Run the service and see the plugin's source.
        let service = try sandbox.startRun()
        defer { service.terminate() }
        try #require(await sandbox.waitForRunning(timeout: 120), "log:\n\(service.output)")

        var effective: [String: Any] = [:]
        let applied = try await eventually(timeout: .seconds(120), interval: .milliseconds(500)) {
            effective = Self.json(try await sandbox.execute(["policy", "show", "--effective", "--json"] + common))
            return Self.filterSources(effective).contains("plugin:xmldir")
        }
        #expect(applied, "the plugin never applied: \(effective); log:\n\(service.output)")
        #expect(Self.filterSources(effective) == ["persistent", "plugin:xmldir"])
        let filters = (effective["policy"] as? [String: Any])?["filters"] as? [[String: Any]] ?? []
        let provenance = filters.last?["provenance"] as? [String: Any] ?? [:]
        #expect(provenance["kind"] as? String == "plugin")
        #expect(provenance["policyName"] as? String == "Xmldir policy")
        #expect(provenance["ruleName"] as? String == "Xmldir rule")

        var status = Self.json(try await sandbox.execute(["status", "--json"] + common))
        #expect(status["state"] as? String == "RUNNING")
        var byName = Self.sources(status)
        #expect(byName["plugin:xmldir"]?["state"] as? String == "in-effect", "\(status)")
        #expect(byName["plugin:xmldir"]?["policyName"] as? String == "Xmldir policy")
        #expect(byName["plugin:xmldir"]?["kind"] as? String == "plugin")
        #expect(byName["local"]?["state"] as? String == "standby")
        #expect(byName["persistent"]?["state"] as? String == "in-effect")

        let explained = try await sandbox.execute(
            ["explain", "--src", "198.18.0.1", "--dst", "198.18.7.1", "--json"] + common
        )
        #expect(explained.output.contains("plugin:xmldir"), "\(explained.output)")

        // 4. Break the plugin: its directory now holds a malformed document. The plugin's watcher signals
        // the change, the fetch fails validation, and only its source fails: local takes its place.
        try "<policyStore xmlns=\"urn:ipsecsvc:policy:1\" version=\"1\"><filterList"
            .write(toFile: policies + "/10-site.xml", atomically: true, encoding: .utf8)
        let failed = try await eventually(timeout: .seconds(120), interval: .milliseconds(500)) {
            status = Self.json(try await sandbox.execute(["status", "--json"] + common))
            return Self.sources(status)["plugin:xmldir"]?["state"] as? String == "failed"
        }
        #expect(failed, "the plugin never failed: \(status); log:\n\(service.output)")
        byName = Self.sources(status)
        let reason = byName["plugin:xmldir"]?["reason"] as? String ?? ""
        #expect(reason.contains("invalid document"), "\(reason)")
        #expect(status["state"] as? String == "RUNNING")
        #expect(byName["persistent"]?["state"] as? String == "in-effect")
        #expect(byName["local"]?["state"] as? String == "in-effect")
        effective = Self.json(try await sandbox.execute(["policy", "show", "--effective", "--json"] + common))
        #expect(Self.filterSources(effective) == ["persistent", "local"])
        if !FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") {
            // The journal is standard error here: the plugin's failure event is in the service's log.
            #expect(service.output.contains("plugin:xmldir: plugin failed: invalid document"), "\(service.output)")
        }

        // 5. plugins.d is read again on `service refresh`: a file added while the service runs starts its
        // plugin (directory-like, rank 40: behind the local policy), and once removed it is gone.
        let extraPolicies = work + "/extra-policies"
        try FileManager.default.createDirectory(atPath: extraPolicies, withIntermediateDirectories: true)
        try Self.document(
            tag: "5e4f0c9e",
            name: "Extra",
            source: "198.18.0.1",
            destination: "198.18.8.1",
            action: "block"
        )
        .write(toFile: extraPolicies + "/10-site.xml", atomically: true, encoding: .utf8)
        try "path = libxmldir.so\nenabled = yes\nrank = 40\noption.directory = \(extraPolicies)\n"
            .write(toFile: pluginsD + "/extra.conf", atomically: true, encoding: .utf8)
        let refreshed = try await sandbox.execute(["service", "refresh"] + common)
        #expect(refreshed.status == 0, "\(refreshed.output)")
        let added = try await eventually(timeout: .seconds(60), interval: .milliseconds(500)) {
            status = Self.json(try await sandbox.execute(["status", "--json"] + common))
            return ["standby", "in-effect"].contains(Self.sources(status)["plugin:extra"]?["state"] as? String)
        }
        #expect(added, "the added plugin never appeared: \(status); log:\n\(service.output)")
        #expect(Self.sources(status)["plugin:xmldir"] != nil, "the other plugin stays: \(status)")

        try FileManager.default.removeItem(atPath: pluginsD + "/extra.conf")
        let refreshedAgain = try await sandbox.execute(["service", "refresh"] + common)
        #expect(refreshedAgain.status == 0, "\(refreshedAgain.output)")
        let removed = try await eventually(timeout: .seconds(60), interval: .milliseconds(500)) {
            status = Self.json(try await sandbox.execute(["status", "--json"] + common))
            return status["state"] as? String == "RUNNING" && Self.sources(status)["plugin:extra"] == nil
        }
        #expect(removed, "the removed plugin is still there: \(status); log:\n\(service.output)")
        #expect(Self.sources(status)["plugin:xmldir"] != nil)

        // 6. A graceful stop closes the plugin host with the service.
        service.signal(SIGTERM)
        #expect(await service.exited(timeout: 90) == 0, "log:\n\(service.output)")
    }
}
