extension FilterAction {
    /// Checks a filter action and its quick-mode offers.
    ///
    /// Offers on a permit or block action are accepted: Windows keeps them when an action is switched
    /// away from negotiate and ignores them (netsh: "qmsecmethods ignored unless action=negotiate").
    func validate(at path: ValidationPath, into report: inout ValidationReport) {
        if action == .negotiate && offers.isEmpty {
            report.add(path.appending("offers"), "a negotiate action needs at least one security offer")
        }
        if inboundPassThrough && action != .negotiate {
            // Windows encodes inpass as its own negotiate action GUID; it cannot go with permit/block.
            report.add(path.appending("inboundPassThrough"), "inbound pass-through needs action negotiate")
        }
        if type == .defaultResponse && action != .negotiate {
            report.add(path.appending("action"), "a default-response action must negotiate")
        }
        for (position, offer) in offers.enumerated() {
            offer.validate(at: path.appending("offer \(position + 1)"), into: &report)
        }
    }
}

extension SecurityOffer {
    func validate(at path: ValidationPath, into report: inout ValidationReport) {
        let range = ValidationLimits.transformsPerOffer
        if !range.contains(transforms.count) {
            report.add(
                path.appending("transforms"),
                "an offer has \(range.lowerBound)…\(range.upperBound) transforms, not \(transforms.count)"
            )
        }
        let ahCount = transforms.filter { if case .ah = $0 { true } else { false } }.count
        if ahCount > 1 || transforms.count - ahCount > 1 {
            report.add(path.appending("transforms"), "an offer bundles at most one AH and one ESP transform")
        }
        for (position, transform) in transforms.enumerated() {
            if case .esp(ESPEncryption.none, nil) = transform {
                report.add(
                    path.appending("transform \(position + 1)"),
                    "ESP needs encryption or integrity (not None with None)"
                )
            }
        }
        report.checkRange(
            lifetimeSeconds,
            ValidationLimits.quickModeLifetimeSeconds,
            at: path.appending("lifetimeSeconds"),
            unit: "seconds"
        )
        report.checkRange(
            lifetimeKilobytes,
            ValidationLimits.quickModeLifetimeKilobytes,
            at: path.appending("lifetimeKilobytes"),
            unit: "KB"
        )
    }
}
