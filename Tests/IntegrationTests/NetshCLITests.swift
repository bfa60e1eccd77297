import Foundation
import IPsecTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `ipsecsvc netsh` and the binary installed as `netsh` (argv[0]), on a temporary state directory.
@Suite(.serialized) struct NetshCLITests {
    /// A sandbox with a `netsh` symlink to the built binary.
    struct Netsh {
        let sandbox: ServiceSandbox
        var link: String { sandbox.root + "/netsh" }

        init() throws {
            sandbox = try ServiceSandbox()
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: ServiceHarness.executable)
        }

        /// Runs `netsh <arguments>` through the symlink, waiting without blocking the pool.
        func netsh(_ arguments: [String]) async throws -> ProcessResult {
            let process = try ServiceProcess(
                [link, "--config", sandbox.configPath] + arguments,
                output: sandbox.root + "/netsh-\(UUID().uuidString).out"
            )
            return ProcessResult(status: await process.exited(timeout: 120) ?? -1, output: process.output)
        }

        func write(_ text: String, _ name: String) throws -> String {
            let path = sandbox.root + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        var localStore: String? { try? String(contentsOfFile: sandbox.stateDirectory + "/local.xml", encoding: .utf8) }
    }

    @Test func argv0NetshRunsOneCommandAgainstTheLocalStore() async throws {
        let netsh = try Netsh()
        defer { netsh.sandbox.remove() }
        let add = try await netsh.netsh(["ipsec", "static", "add", "policy", "name=Web Servers", "assign=yes"])
        #expect(add.status == 0, "\(add.output)")
        #expect(netsh.localStore?.contains("Web Servers") == true)
        let show = try await netsh.netsh(["ipsec", "static", "show", "policy", "all"])
        #expect(show.status == 0)
        #expect(show.output.contains("Policy Name             : Web Servers"))
        #expect(show.output.contains("Assigned                : YES"))
        // The same through the subcommand of ipsecsvc.
        let viaSubcommand = try await netsh.sandbox.execute([
            "netsh", "--config", netsh.sandbox.configPath, "ipsec", "static", "show", "store",
        ])
        #expect(viaSubcommand.output == "The current IPsec policy store is the local store.\n")
    }

    @Test func errorsNameTheParameterAndExitNonZero() async throws {
        let netsh = try Netsh()
        defer { netsh.sandbox.remove() }
        let bad = try await netsh.netsh([
            "ipsec", "static", "add", "filter", "filterlist=L", "srcaddr=me", "dstaddr=any", "mirrored=maybe",
        ])
        #expect(bad.status == 1)
        #expect(bad.output.contains("'mirrored'") && bad.output.contains("Accepted values: yes, no"))
        let unknown = try await netsh.netsh(["ipsec", "static", "frobnicate"])
        #expect(unknown.status == 1 && unknown.output.contains("The following command was not found"))
        let dynamic = try await netsh.netsh(["ipsec", "dynamic", "show", "config"])
        #expect(dynamic.status == 1 && dynamic.output.contains("The IPsec Services service is not running."))
        let context = try await netsh.netsh(["-c", "ipsec static", "show", "store"])
        #expect(context.status == 0 && context.output == "The current IPsec policy store is the local store.\n")
        let usage = try await netsh.netsh(["--help"])
        #expect(usage.status == 0 && usage.output.contains("-f script"))
        let remote = try await netsh.netsh(["-r", "server1", "ipsec", "static", "show", "store"])
        #expect(remote.status == 1 && remote.output.contains("remote computers"))
        let help = try await netsh.netsh(["ipsec", "static", "add", "rule", "?"])
        #expect(help.status == 0 && help.output.hasPrefix("Usage: add rule [ name = ] <string>"))
    }

    @Test func scriptFileIsOneTransaction() async throws {
        let netsh = try Netsh()
        defer { netsh.sandbox.remove() }
        let good = try netsh.write(
            """
            # baseline
            pushd ipsec static
            add policy name="Baseline" assign=yes
            add filteraction name=Block action=block
            add filter filterlist=Telnet srcaddr=any dstaddr=me protocol=TCP dstport=23
            add rule name=NoTelnet policy=Baseline filterlist=Telnet filteraction=Block
            popd
            """,
            "good.netsh"
        )
        let run = try await netsh.netsh(["-f", good])
        #expect(run.status == 0, "\(run.output)")
        let before = netsh.localStore
        #expect(before?.contains("NoTelnet") == true)
        let bad = try netsh.write(
            """
            pushd ipsec static
            delete rule all policy=Baseline
            add policy name="Second"
            add rule name=R policy=Second filterlist=Missing filteraction=Block
            popd
            """,
            "bad.netsh"
        )
        let failed = try await netsh.netsh(["-f", bad])
        #expect(failed.status == 1)
        #expect(failed.output.contains("bad.netsh:4: Filter List with name \"Missing\" does not exist."))
        #expect(netsh.localStore == before)
    }

    @Test func dumpRecreatesTheStore() async throws {
        let netsh = try Netsh()
        defer { netsh.sandbox.remove() }
        let script = try netsh.write(
            """
            ipsec static delete all
            ipsec static add policy name="Branch" mmsecmethods="3DES-SHA1-2"
            ipsec static add filteraction name="ESP" qmpfs=yes qmsecmethods="ESP[3DES,SHA1]:100000k/3600s"
            ipsec static add filter filterlist="Branch Net" srcaddr=me dstaddr=198.18.20.0 dstmask=24
            ipsec static add rule name="Branch" policy="Branch" filterlist="Branch Net" filteraction="ESP" psk="secret"
            """,
            "setup.netsh"
        )
        #expect(try await netsh.netsh(["-f", script]).status == 0)
        let dump = try await netsh.netsh(["ipsec", "dump"])
        #expect(dump.status == 0 && dump.output.hasPrefix("# ----"))
        let show = try await netsh.netsh(["ipsec", "static", "show", "all"]).output
        // Replay the dump on an empty store (not a missing one: that would start with the examples).
        let dumped = try netsh.write(dump.output, "dump.netsh")
        #expect(try await netsh.netsh(["ipsec", "static", "delete", "all"]).status == 0)
        #expect(try await netsh.netsh(["-f", dumped]).status == 0)
        #expect(try await netsh.netsh(["ipsec", "dump"]).output == dump.output)
        let replayed = try await netsh.netsh(["ipsec", "static", "show", "all"]).output
        func withoutGUIDsAndTimes(_ text: String) -> String {
            text.split(separator: "\n").filter { !$0.contains("GUID") && !$0.hasPrefix("Last Modified") }
                .joined(separator: "\n")
        }
        #expect(withoutGUIDsAndTimes(replayed) == withoutGUIDsAndTimes(show))
    }

    @Test func interactiveMode() async throws {
        let netsh = try Netsh()
        defer { netsh.sandbox.remove() }
        let input = try netsh.write(
            "ipsec static\nadd policy Interactive\nset batch mode=enable\nadd filterlist L\n..\nexit\n",
            "input.txt"
        )
        let process = try ServiceProcess(
            ["/bin/sh", "-c", "exec \"$0\" --config \"$1\" < \"$2\"", netsh.link, netsh.sandbox.configPath, input],
            output: netsh.sandbox.root + "/interactive.out"
        )
        #expect(await process.exited(timeout: 60) == 0, "\(process.output)")
        // The batch is committed when netsh exits.
        #expect(netsh.localStore?.contains("Interactive") == true)
        #expect(netsh.localStore?.contains("name=\"L\"") == true || netsh.localStore?.contains(">L<") == true)
    }

    @Test func dynamicCommandsWithTheRunningService() async throws {
        let netsh = try Netsh()
        defer { netsh.sandbox.remove() }
        let service = try netsh.sandbox.startRun()
        defer { service.terminate() }
        #expect(await eventually { netsh.sandbox.driverMode() == "secure" })
        #expect(await eventually { await ServiceHarness.socketAnswers(netsh.sandbox.socket) })
        #expect(try await netsh.netsh(["ipsec", "dynamic", "add", "mmpolicy", "name=MM"]).status == 0)
        let rule = try await netsh.netsh([
            "ipsec", "dynamic", "add", "rule", "srcaddr=198.18.66.6", "dstaddr=me", "mmpolicy=MM",
            "actioninbound=block", "actionoutbound=block",
        ])
        #expect(rule.status == 0, "\(rule.output)")
        let filters = try await netsh.netsh(["ipsec", "dynamic", "show", "qmfilter", "all"])
        #expect(filters.output.contains("Source Address          : 198.18.66.6 (255.255.255.255)"))
        // The rule takes effect at once: the service's dynamic policy source decides the packet.
        let host = try await netsh.netsh([
            "ipsec", "dynamic", "add", "rule", "198.18.66.6", "198.18.0.10", "MM",
            "actioninbound=block", "actionoutbound=block",
        ])
        #expect(host.status == 0, "\(host.output)")
        let explained = try await netsh.sandbox.execute(
            ["explain", "--src", "198.18.66.6", "--dst", "198.18.0.10", "--direction", "in"]
                + netsh.sandbox.commonArguments
        )
        #expect(explained.output.contains("Verdict: block"), "\(explained.output)")
        #expect(explained.output.contains("dynamic policy"))
        let config = try await netsh.netsh([
            "ipsec", "dynamic", "set", "config", "property=ipsecdiagnostics", "value=7",
        ])
        #expect(config.status == 0, "\(config.output)")
        #expect(
            try await netsh.netsh(["ipsec", "dynamic", "show", "config"]).output.contains("IPsec Diagnostics       : 7")
        )
        let stop = try await netsh.sandbox.execute(["service", "stop"] + netsh.sandbox.commonArguments)
        #expect(stop.status == 0, "\(stop.output)")
        _ = await service.exited(timeout: 30)
        let stopped = try await netsh.netsh(["ipsec", "dynamic", "show", "all"])
        #expect(stopped.status == 1 && stopped.output.contains("not running"))
        // The config persists across the stop; the rules are gone.
        let again = try netsh.sandbox.startRun()
        defer { again.terminate() }
        #expect(await eventually { await ServiceHarness.socketAnswers(netsh.sandbox.socket) })
        let after = try await netsh.netsh(["ipsec", "dynamic", "show", "all"]).output
        #expect(after.contains("IPsec Diagnostics       : 7"))
        #expect(!after.contains("198.18.66.6"))
    }

    @Test func domainStoreShowsTheCachedDirectoryPolicyReadOnly() async throws {
        let netsh = try Netsh()
        defer { netsh.sandbox.remove() }
        // A cached directory policy as the service leaves it: the policy, assigned, and its provenance.
        let shipped = IPsecSvcProcess.packageRoot.appendingPathComponent("policies-xml/server-request-security.xml")
        var xml = try String(contentsOf: shipped, encoding: .utf8)
        xml = xml.replacingOccurrences(
            of: #"version="1">"#,
            with: #"version="1" assignedPolicy="{72385230-70fa-11d1-864c-14a300000000}">"#
        )
        try FileManager.default.createDirectory(atPath: netsh.sandbox.stateDirectory, withIntermediateDirectories: true)
        try xml.write(toFile: netsh.sandbox.stateDirectory + "/directory-cache.xml", atomically: true, encoding: .utf8)
        try "gpo=Server Isolation GPO\nlinkedThrough=OU=Servers,DC=example,DC=test\n".write(
            toFile: netsh.sandbox.stateDirectory + "/directory-cache.info",
            atomically: true,
            encoding: .utf8
        )
        let show = try netsh.write(
            "ipsec static set store location=domain\nipsec static show policy all\nipsec static show gpoassignedpolicy\n",
            "show.netsh"
        )
        let shown = try await netsh.netsh(["-f", show])
        #expect(shown.status == 0, "\(shown.output)")
        #expect(shown.output.contains("Policy Name             : Server (Request Security)"))
        #expect(shown.output.contains("Store                   : Domain Store"))
        #expect(shown.output.contains("GPO Name                : Server Isolation GPO"))
        let edit = try netsh.write("ipsec static set store location=domain\nipsec static delete all\n", "edit.netsh")
        let refused = try await netsh.netsh(["-f", edit])
        #expect(refused.status == 1 && refused.output.contains("edit.netsh:2: The domain store is read-only"))
        #expect(
            try String(contentsOfFile: netsh.sandbox.stateDirectory + "/directory-cache.xml", encoding: .utf8) == xml
        )
    }

    @Test func exportAndImportPolicyFiles() async throws {
        let netsh = try Netsh()
        defer { netsh.sandbox.remove() }
        let setup = try netsh.write(
            """
            pushd ipsec static
            add policy name="Export Me" assign=yes
            add filteraction name=Block action=block
            add filter filterlist=Telnet srcaddr=any dstaddr=me protocol=TCP dstport=23
            add rule name=NoTelnet policy="Export Me" filterlist=Telnet filteraction=Block
            popd
            """,
            "setup.netsh"
        )
        #expect(try await netsh.netsh(["-f", setup]).status == 0)
        let before = try await netsh.netsh(["ipsec", "dump"]).output
        for file in ["backup.xml", "backup.reg", "backup.ipsec"] {
            let path = netsh.sandbox.root + "/" + file
            let export = try await netsh.netsh(["ipsec", "static", "exportpolicy", "file=\(path)"])
            #expect(export.status == 0, "\(file): \(export.output)")
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(try await netsh.netsh(["ipsec", "static", "delete", "all"]).status == 0)
            let imported = try await netsh.netsh(["ipsec", "static", "importpolicy", path])
            #expect(imported.status == 0, "\(file): \(imported.output)")
            // Imported policies are not assigned: assign again, then the store is the one exported.
            #expect(try await netsh.netsh(["ipsec", "static", "set", "policy", "Export Me", "assign=yes"]).status == 0)
            #expect(try await netsh.netsh(["ipsec", "dump"]).output == before, "\(file)")
        }
        let missing = try await netsh.netsh(["ipsec", "static", "importpolicy", "file=\(netsh.sandbox.root)/nope.xml"])
        #expect(missing.status == 1 && missing.output.contains("were not imported"))
    }

    @Test func staticEditsApplyAtOnceWithTheServiceRunning() async throws {
        let netsh = try Netsh()
        defer { netsh.sandbox.remove() }
        let service = try netsh.sandbox.startRun()
        defer { service.terminate() }
        // Running: the policy is applied and the socket answers.
        #expect(await eventually { netsh.sandbox.driverMode() == "secure" })
        #expect(await eventually { await ServiceHarness.socketAnswers(netsh.sandbox.socket) })
        let script = try netsh.write(
            """
            pushd ipsec static
            add policy name=Lockdown assign=yes
            add filteraction name=Block action=block
            add filter filterlist=Telnet srcaddr=198.18.77.7 dstaddr=198.18.0.10 protocol=TCP dstport=23
            add rule name=NoTelnet policy=Lockdown filterlist=Telnet filteraction=Block
            popd
            """,
            "lockdown.netsh"
        )
        #expect(try await netsh.netsh(["-f", script]).status == 0)
        let explained = try await netsh.sandbox.execute(
            ["explain", "--src", "198.18.77.7", "--dst", "198.18.0.10", "--protocol", "tcp", "--dstport", "23"]
                + ["--direction", "in"] + netsh.sandbox.commonArguments
        )
        #expect(explained.output.contains("Verdict: block"), "\(explained.output)")
        #expect(explained.output.contains("local policy \"Lockdown\""))
    }
}
