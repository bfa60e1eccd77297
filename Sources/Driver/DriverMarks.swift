/// The packet-mark bits the driver owns (documented in docs/driver.md).
public struct DriverMarks: Hashable, Sendable {
    /// Set by the `policy` match rules on packets IPsec protects (or will protect).
    public var protected: UInt32
    /// The fast-path field: holds the epoch (≠ 0) of the table that permitted the flow.
    public var flowMask: UInt32

    public init(protected: UInt32, flowMask: UInt32) {
        self.protected = protected
        self.flowMask = flowMask
    }

    /// 0x40000000 for "protected", 0x0FFF0000 for the flow epoch (12 bits).
    public static let `default` = DriverMarks(protected: 0x4000_0000, flowMask: 0x0FFF_0000)

    /// The mark value of `epoch` inside the flow field.
    public func flowMark(epoch: UInt32) -> UInt32 {
        let shift = UInt32(flowMask.trailingZeroBitCount)
        return (epoch << shift) & flowMask
    }

    /// How many distinct epochs the flow field can hold (0 is "undecided").
    public var epochModulus: UInt32 { (flowMask >> UInt32(flowMask.trailingZeroBitCount)) }
}
