import PolicyModel
import Providers
import Testing

/// Every combination of persistent / directory / cache / local / dynamic being present, absent or broken
/// (3⁵ = 243), against an oracle written as the Windows rules read.
@Suite struct PrecedenceMatrixTests {
    enum Presence: CaseIterable, CustomStringConvertible {
        case present, absent, broken
        var description: String {
            switch self {
            case .present: "present"
            case .absent: "absent"
            case .broken: "broken"
            }
        }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var persistent: Presence
        var directory: Presence
        var cache: Presence
        var local: Presence
        var dynamic: Presence
        var testDescription: String {
            "P=\(persistent) D=\(directory) C=\(cache) L=\(local) Y=\(dynamic)"
        }
    }

    static let cases: [Case] = Presence.allCases.flatMap { p in
        Presence.allCases.flatMap { d in
            Presence.allCases.flatMap { c in
                Presence.allCases.flatMap { l in
                    Presence.allCases.map { y in Case(persistent: p, directory: d, cache: c, local: l, dynamic: y) }
                }
            }
        }
    }

    static func report(
        _ presence: Presence,
        _ name: String,
        space: UInt8,
        brokenIsUnavailable: Bool = false
    )
        -> ProviderReport
    {
        switch presence {
        case .present: .policy(SourcePolicy.assigned(in: Fixtures.simple(name, space: space), location: name)!)
        case .absent: .notConfigured(reason: nil)
        case .broken: brokenIsUnavailable ? .unavailable(reason: "unreachable") : .failed(reason: "\(name):3: bad")
        }
    }

    @Test(arguments: cases)
    func precedence(_ c: Case) {
        let reports = [
            NamedReport(name: "persistent", kind: .persistent, report: Self.report(c.persistent, "P", space: 1)),
            NamedReport(
                name: "directory",
                kind: .directory,
                report: Self.report(c.directory, "D", space: 2, brokenIsUnavailable: true)
            ),
            NamedReport(name: "directory-cache", kind: .directoryCache, report: Self.report(c.cache, "C", space: 3)),
            NamedReport(name: "local", kind: .local, report: Self.report(c.local, "L", space: 4)),
            NamedReport(name: "dynamic", kind: .dynamic, report: Self.report(c.dynamic, "Y", space: 5)),
        ]
        let selection = SourceSelector.select(reports)
        let policy = PolicyMerger.merge(selection.contributions, generation: 1)

        // The oracle: persistent first and always; directory, else (only when the directory is
        // unreachable) its cache, else local; dynamic on top. A broken persistent store blocks.
        var expected: [String] = []
        if c.persistent == .present { expected.append("P") }
        if c.directory == .present {
            expected.append("D")
        } else if c.directory == .broken && c.cache == .present {
            expected.append("C")
        } else if c.local == .present {
            expected.append("L")
        }
        if c.dynamic == .present { expected.append("Y") }

        #expect(policy.filters.map(\.provenance.policyName) == expected)
        #expect(selection.driverMode == (c.persistent == .broken ? .block : .secure))
        switch c.directory {
        case .present: #expect(selection.cacheAction != .keep && selection.cacheAction != .drop)
        case .absent: #expect(selection.cacheAction == .drop)
        case .broken: #expect(selection.cacheAction == .keep)
        }
        // Every source is reported, and exactly the contributing ones are in effect.
        #expect(selection.statuses.count == 5)
        let inEffect = selection.statuses.filter { $0.state == .inEffect }.map(\.name)
        let expectedNames = expected.map {
            ["P": "persistent", "D": "directory", "C": "directory-cache", "L": "local", "Y": "dynamic"][$0]!
        }
        #expect(inEffect == expectedNames)
        if c.persistent == .broken {
            #expect(selection.statuses.first { $0.name == "persistent" }?.state == .failed)
        }
    }
}
