public import DecisionCore
public import Driver

/// A fixed host configuration, for tests and the benchmark.
public struct StaticHostInfoSource: HostInfoSource {
    public var info: HostInfo

    public init(_ info: HostInfo) { self.info = info }

    public func current() -> HostInfo { info }
}
