import IPsecTestKit
import Netsh
import PolicyModel
import Testing

/// A netsh session keeps its stores indexed by name from command to command (`IndexedPolicyStore`);
/// what it does must not depend on how long the session is: random commands give the same output, the
/// same errors and the same store whether each runs on its own (the store read and indexed afresh every
/// time) or all in one batch session (the index kept up to date edit by edit), and a long script gives
/// the store it gives in small pieces.
@Suite struct NetshScriptIndexTests {
    @Test func aLongSessionAnswersAsFreshSessionsDo() async throws {
        let mismatches = try await offThePool {
            var random = SplitMix(seed: 0x1414)
            var mismatches: [String] = []
            for _ in 0..<6 {
                let lines = (0..<200).map { _ in RandomCommands.line(&random) }
                let fresh = NetshHarness()
                let session = NetshHarness()
                for harness in [fresh, session] { harness.stores.files["dup"] = RandomCommands.duplicates }
                try session.s("set batch mode=enable")
                for line in lines {
                    let alone = Self.outcome { try fresh.s(line) }
                    let inSession = Self.outcome { try session.s(line) }
                    if alone != inSession { mismatches.append("\(line): \(alone) ≠ \(inSession)") }
                }
                try session.s("set batch mode=disable")
                if fresh.local != session.local {
                    mismatches.append("the stores differ after:\n" + lines.joined(separator: "\n"))
                }
                if !mismatches.isEmpty { break }
            }
            return mismatches
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    @Test func aScriptOf20000FilterListsMakesTheStoreItMakesInPieces() async throws {
        let (whole, pieces) = try await offThePool {
            var lines: [String] = ["add policy name=Bench", "add filteraction name=Block action=block"]
            for index in 0..<20_000 {
                lines.append("add filterlist name=List\(index)")
                // References in another letter case than the name find the list.
                lines.append(
                    "add filter filterlist=LIST\(index) srcaddr=198.18.\(index / 250).\(index % 250 + 1) dstaddr=me"
                )
                if index % 10 == 0 {
                    lines.append("add rule name=Rule\(index) policy=bench filterlist=list\(index) filteraction=BLOCK")
                }
                if index % 500 == 7 { lines.append("set filterlist name=list\(index) newname=Renamed\(index)") }
                if index % 500 == 8 { lines.append("delete filterlist name=LIST\(index)") }
                if index % 1000 == 0 {
                    lines.append("set rule name=rule\(index) policy=Bench newname=Moved\(index) activate=no")
                }
                if index % 2000 == 0 { lines.append("delete rule name=moved\(index) policy=BENCH") }
            }
            lines.append("set policy name=bench assign=yes")
            func script(_ lines: ArraySlice<String>) -> String {
                (["pushd ipsec static"] + lines + ["popd"]).joined(separator: "\n") + "\n"
            }
            let whole = NetshHarness()
            _ = try whole.shell.runScript(script(lines[...]), source: "whole.netsh")
            let pieces = NetshHarness()
            for start in stride(from: 0, to: lines.count, by: 2_500) {
                _ = try pieces.shell.runScript(script(lines[start..<min(start + 2_500, lines.count)]), source: "piece")
            }
            return (whole.local, pieces.local)
        }
        #expect(whole.filterLists.count == 20_000 - 40)
        #expect(whole.policies.first?.rules.count == 2_000 - 10 + 1)
        #expect(whole == pieces)
    }

    /// A command's output, or its error message.
    private static func outcome(_ body: () throws -> String) -> String {
        do {
            return try body()
        } catch {
            return "error: \(error)"
        }
    }
}

/// Random `ipsec static` commands on a few names in random letter case, most of them valid.
private enum RandomCommands {
    static let names = ["Alpha", "alpha2", "Beta", "GAMMA"]

    /// Filter lists and actions with duplicate names, for `importpolicy file=dup`: names that need the GUID.
    static let duplicates = PolicyStore(
        filterLists: [
            FilterList(id: IPsecGUID("{00000000-0000-4000-8000-0000000000A1}")!, name: "alpha"),
            FilterList(id: IPsecGUID("{00000000-0000-4000-8000-0000000000A2}")!, name: "ALPHA"),
        ],
        filterActions: [
            FilterAction(id: IPsecGUID("{00000000-0000-4000-8000-0000000000B1}")!, name: "beta", action: .permit),
            FilterAction(id: IPsecGUID("{00000000-0000-4000-8000-0000000000B2}")!, name: "Beta", action: .block),
        ]
    )

    static func name(_ random: inout SplitMix) -> String {
        if random.chance(12) {
            return random.pick(["{00000000-0000-4000-8000-0000000000A1}", "{00000000-0000-4000-8000-0000000000B2}"])
        }
        return random.pick(names).map { character in random.chance(2) ? character.uppercased() : character.lowercased()
        }
        .joined()
    }

    static func line(_ random: inout SplitMix) -> String {
        let (a, b, c) = (name(&random), name(&random), name(&random))
        let rule = random.pick(["r1", "R2", "r3"])
        switch random.below(22) {
        case 0, 1: return "add filterlist name=\(a)"
        case 2, 3: return "add filter filterlist=\(a) srcaddr=198.18.0.\(random.below(200) + 1) dstaddr=any"
        case 4: return "set filterlist name=\(a) newname=\(b)"
        case 5: return "delete filterlist name=\(a)"
        case 6: return "add filteraction name=\(a) action=\(random.pick(["permit", "block", "negotiate"]))"
        case 7: return "set filteraction name=\(a) newname=\(b)"
        case 8: return "delete filteraction name=\(a)"
        case 9: return "add policy name=\(a)"
        case 10: return "set policy name=\(a) newname=\(b) activatedefaultrule=\(random.pick(["yes", "no"]))"
        case 11: return "delete policy name=\(a)"
        case 12, 13: return "add rule name=\(rule) policy=\(a) filterlist=\(b) filteraction=\(c)"
        case 14: return "set rule name=\(rule) policy=\(a) newname=\(random.pick(["r1", "R2", "r3"]))"
        case 15: return "set rule id=\(random.below(3) + 1) policy=\(a) activate=no filterlist=\(b)"
        case 16: return "delete rule \(random.chance(2) ? "name=\(rule)" : "id=\(random.below(3) + 1)") policy=\(a)"
        case 17: return "set defaultrule policy=\(a) activate=\(random.pick(["yes", "no"]))"
        case 18: return "show rule \(random.chance(2) ? "all" : "id=1") policy=\(a)"
        case 19: return "show filterlist name=\(a) level=verbose"
        case 20: return random.chance(3) ? "importpolicy file=dup" : "show filteraction rule=\(rule)"
        default: return random.chance(4) ? "delete filterlist all" : "show all"
        }
    }
}
