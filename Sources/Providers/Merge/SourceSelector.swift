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
    /// In merge order: persistent, then directory or its cache or local, then dynamic, then plugins.
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

    public init(name: String, kind: SourceKind, report: ProviderReport) {
        self.name = name
        self.kind = kind
        self.report = report
    }
}

/// The Windows precedence, as a pure function (windows-ipsec.md §2, DESIGN.md §3):
/// persistent policy first and always (if it fails, its filters are dropped and the driver must block);
/// then exactly one of the directory policy, else its cached copy when the directory is unavailable,
/// else the local policy; then the dynamic rules; then additive plugin sources.
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

        // Directory, else its cache, else local: exactly one applies.
        let directory = first(.directory)
        let cache = first(.directoryCache)
        let local = first(.local)
        var choice = StaticChoice.none
        var cacheAction = CacheAction.keep
        var directoryDropsCache = false
        if let directory {
            switch directory.report {
            case .policy(let policy):
                choice = .directory
                cacheAction = .replace(policy)
                contribute(directory)
            case .notConfigured:
                directoryDropsCache = true
                cacheAction = .drop
                status(directory, .notConfigured)
            case .unavailable: status(directory, .unavailable)
            case .failed: status(directory, .failed)
            }
        }
        if let cache {
            if directoryDropsCache {
                status(cache, .notConfigured, reason: "the directory policy is no longer assigned")
            } else if choice == .directory {
                status(cache, cache.report.policy == nil ? .notConfigured : .standby)
            } else if case .policy = cache.report {
                choice = .directoryCache
                contribute(cache)
            } else {
                status(cache, cache.report.state)
            }
        }
        if let local {
            if choice == .none, case .policy = local.report {
                choice = .local
                contribute(local)
            } else if local.report.policy != nil {
                status(local, .standby, reason: "overridden by the \(choice.kindName) policy")
            } else {
                status(local, local.report.state)
            }
        }

        // Dynamic rules and plugins add on top.
        for report in reports where report.kind == .dynamic || report.kind == .plugin {
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
        case .none: "no"
        }
    }
}
