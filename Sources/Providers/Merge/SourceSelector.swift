public import PolicyModel

/// The mode the driver must be in for a selection: secure, or block when the persistent policy failed.
public enum RequiredDriverMode: String, Hashable, Sendable, Codable {
    case secure
    case block
}

/// Which static source supplies the directory / cache / local slot.
public enum StaticChoice: Hashable, Sendable {
    case directory
    case directoryCache
    case local
    /// A directory-like plugin, by source name (`plugin:cmdb`), that won by rank.
    case plugin(String)
    case none
}

/// What the cached copy of the directory policy must become after a selection.
public enum CacheAction: Hashable, Sendable {
    /// Leave it as it is.
    case keep
    /// Replace it with the directory policy just applied.
    case replace(SourcePolicy)
    /// Delete it: the directory policy was explicitly unassigned (or no directory is configured).
    case drop
}

/// The result of applying the Windows precedence to the providers' reports.
public struct Selection: Sendable, Hashable {
    /// In merge order: persistent, then directory or its cache or local or a directory-like plugin, then
    /// dynamic, then additive plugins.
    public var contributions: [Contribution]
    /// One per report, `since` left 0 for the engine to fill in.
    public var statuses: [SourceStatus]
    public var driverMode: RequiredDriverMode
    public var staticChoice: StaticChoice
    public var cacheAction: CacheAction
}

/// One provider's report, as the selector takes it.
public struct NamedReport: Sendable, Hashable {
    public var name: String
    public var kind: SourceKind
    public var report: ProviderReport
    /// The provider's rank (``PolicyProvider/rank``).
    public var rank: Int
    /// A plugin that competes by rank with the directory, cache and local policies.
    public var isDirectoryLike: Bool

    public init(name: String, kind: SourceKind, report: ProviderReport, rank: Int? = nil, isDirectoryLike: Bool = false)
    {
        self.name = name
        self.kind = kind
        self.report = report
        self.rank = rank ?? kind.defaultRank
        self.isDirectoryLike = isDirectoryLike
    }
}

/// The Windows precedence, as a pure function (windows-ipsec.md §2, DESIGN.md §3):
/// persistent policy first and always (if it fails, its filters are dropped and the driver must block);
/// then exactly one of the directory policy, its cached copy (only while the directory is unavailable),
/// the local policy and the directory-like plugins: the one with the smallest rank that has a policy
/// (directory 10, cache 20, local 30, a plugin its configured or default rank; on equal ranks a
/// built-in source before a plugin, then by name); then the dynamic rules; then the additive plugins
/// in rank order.
public enum SourceSelector {
    public static func select(_ reports: [NamedReport]) -> Selection {
        var contributions: [Contribution] = []
        var statuses: [SourceStatus] = []
        var mode = RequiredDriverMode.secure

        func first(_ kind: SourceKind) -> NamedReport? { reports.first { $0.kind == kind } }
        func status(_ report: NamedReport, _ state: SourceStatus.State, reason: String? = nil) {
            statuses.append(
                SourceStatus(
                    name: report.name,
                    kind: report.kind,
                    state: state,
                    reason: reason ?? report.report.reason,
                    policyName: report.report.policy?.policyName,
                    since: 0
                )
            )
        }
        func contribute(_ report: NamedReport) {
            guard let policy = report.report.policy else { return }
            contributions.append(Contribution(kind: report.kind, sourceName: report.name, policy: policy))
            status(report, .inEffect)
        }

        // Persistent: applied first; a failure removes its filters and blocks.
        if let persistent = first(.persistent) {
            switch persistent.report {
            case .policy: contribute(persistent)
            case .notConfigured: status(persistent, .notConfigured)
            case .unavailable, .failed:
                mode = .block
                status(persistent, .failed)
            }
        }

        // Directory, its cache, local and directory-like plugins: exactly one applies, chosen by rank.
        let directory = first(.directory)
        let cache = first(.directoryCache)
        var choice = StaticChoice.none
        var cacheAction = CacheAction.keep
        var directoryDropsCache = false
        switch directory?.report {
        case .policy(let policy): cacheAction = .replace(policy)
        case .notConfigured:
            directoryDropsCache = true
            cacheAction = .drop
        default: break
        }
        let candidates =
            [directory, cache, first(.local)].compactMap { $0 }
            + reports.filter { $0.kind == .plugin && $0.isDirectoryLike }
        for candidate in candidates.sorted(by: { $0.competitionOrder < $1.competitionOrder }) {
            if candidate.kind == .directoryCache {
                if directoryDropsCache {
                    status(candidate, .notConfigured, reason: "the directory policy is no longer assigned")
                    continue
                }
                if choice == .directory {
                    status(candidate, candidate.report.policy == nil ? .notConfigured : .standby)
                    continue
                }
            }
            if candidate.report.policy == nil {
                status(candidate, candidate.report.state)
            } else if choice == .none {
                choice = StaticChoice(candidate)
                contribute(candidate)
            } else {
                status(candidate, .standby, reason: "overridden by the \(choice.kindName) policy")
            }
        }

        // Dynamic rules, then the additive plugins by rank, add on top.
        let additive = reports.filter { $0.kind == .plugin && !$0.isDirectoryLike }
            .sorted { ($0.rank, $0.name) < ($1.rank, $1.name) }
        for report in reports.filter({ $0.kind == .dynamic }) + additive {
            if case .policy = report.report { contribute(report) } else { status(report, report.report.state) }
        }
        return Selection(
            contributions: contributions,
            statuses: statuses,
            driverMode: mode,
            staticChoice: choice,
            cacheAction: cacheAction
        )
    }
}

extension ProviderReport {
    /// The reason carried by a report without policy.
    public var reason: String? {
        switch self {
        case .policy: nil
        case .notConfigured(let reason): reason
        case .unavailable(let reason), .failed(let reason): reason
        }
    }

    /// The status state a report maps to when its source contributes nothing.
    var state: SourceStatus.State {
        switch self {
        case .policy: .inEffect
        case .notConfigured: .notConfigured
        case .unavailable: .unavailable
        case .failed: .failed
        }
    }
}

extension StaticChoice {
    var kindName: String {
        switch self {
        case .directory: "directory"
        case .directoryCache: "cached directory"
        case .local: "local"
        case .plugin(let name): name
        case .none: "no"
        }
    }

    init(_ winner: NamedReport) {
        switch winner.kind {
        case .directory: self = .directory
        case .directoryCache: self = .directoryCache
        case .local: self = .local
        default: self = .plugin(winner.name)
        }
    }
}

extension NamedReport {
    /// The order of the directory / cache / local / directory-like plugin competition: rank, then a
    /// built-in source before a plugin, then name.
    var competitionOrder: CompetitionOrder {
        CompetitionOrder(rank: rank, isPlugin: kind == .plugin, name: name)
    }
}

struct CompetitionOrder: Comparable {
    var rank: Int
    var isPlugin: Bool
    var name: String

    static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.rank, lhs.isPlugin ? 1 : 0, lhs.name) < (rhs.rank, rhs.isPlugin ? 1 : 0, rhs.name)
    }
}
