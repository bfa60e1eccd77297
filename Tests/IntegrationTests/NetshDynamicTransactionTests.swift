import Foundation
import Testing

/// `netsh ipsec dynamic` edits against the running service are transactions: concurrent commands are
/// serialised, none is lost, and every rule the service holds can be shown and deleted (issue 17).
@Suite(.serialized) struct NetshDynamicTransactionTests {
    /// Runs `ipsecsvc netsh ipsec dynamic <words>` against the sandbox's service.
    static func dynamic(_ sandbox: ServiceSandbox, _ words: [String]) async throws -> ProcessResult {
        try await sandbox.execute(["netsh", "--config", sandbox.configPath, "ipsec", "dynamic"] + words)
    }

    /// The effective policy's filters that come from the dynamic source (`policy show --effective`).
    static func dynamicFilterSources(_ sandbox: ServiceSandbox) async throws -> [String] {
        let shown = try await sandbox.execute(["policy", "show", "--effective", "--json"] + sandbox.commonArguments)
        let report = try JSONSerialization.jsonObject(with: Data(shown.output.utf8)) as? [String: Any]
        let filters = (report?["policy"] as? [String: Any])?["filters"] as? [[String: Any]] ?? []
        return filters.compactMap { filter in
            let provenance = filter["provenance"] as? [String: Any]
            guard provenance?["kind"] as? String == "dynamic" else { return nil }
            let inner = filter["filter"] as? [String: Any]
            return (inner?["source"] as? [String: Any]).map { "\($0)" } ?? "?"
        }
    }

    @Test func fortyConcurrentAddsAreAllKeptAndEachCanBeShownAndDeleted() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning())
        #expect(try await Self.dynamic(sandbox, ["add", "mmpolicy", "name=MM"]).status == 0)

        let count = 40
        let added = await withTaskGroup(of: (Int, ProcessResult?).self) { group in
            for index in 1...count {
                group.addTask {
                    let result = try? await Self.dynamic(
                        sandbox,
                        [
                            "add", "rule", "srcaddr=198.18.77.\(index)", "dstaddr=198.18.0.10", "mmpolicy=MM",
                            "actioninbound=block", "actionoutbound=block",
                        ]
                    )
                    return (index, result)
                }
            }
            var results: [Int: ProcessResult?] = [:]
            for await (index, result) in group { results[index] = result }
            return results
        }
        for index in 1...count {
            let result = added[index] ?? nil
            #expect(result?.status == 0, "add rule \(index): \(result?.output ?? "did not run")")
        }

        // Every rule is in the SPD as netsh shows it, and in the effective policy, once.
        let shown = try await Self.dynamic(sandbox, ["show", "rule"])
        #expect(shown.status == 0, "\(shown.output)")
        for index in 1...count {
            #expect(shown.output.contains("198.18.77.\(index) ("), "rule \(index) is not shown")
        }
        #expect(try await Self.dynamicFilterSources(sandbox).count == count)

        // Each can be deleted by its filter, and then nothing dynamic is left anywhere.
        for index in 1...count {
            let deleted = try await Self.dynamic(
                sandbox,
                ["delete", "rule", "srcaddr=198.18.77.\(index)", "dstaddr=198.18.0.10"]
            )
            #expect(deleted.status == 0, "delete rule \(index): \(deleted.output)")
        }
        #expect(try await Self.dynamic(sandbox, ["show", "rule"]).output == "There are no rules in the SPD.\n")
        #expect(try await Self.dynamicFilterSources(sandbox).isEmpty)
    }
}
