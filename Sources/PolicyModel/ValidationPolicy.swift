extension IPsecPolicy {
    /// Checks the policy, its main-mode settings and its rules (see ``PolicyStore/validate()``).
    func validate(
        at path: ValidationPath,
        in store: PolicyStore,
        index: ValidationIndex,
        into report: inout ValidationReport
    ) {
        report.checkRange(
            pollingIntervalSeconds,
            ValidationLimits.pollingIntervalSeconds,
            at: path.appending("pollingIntervalSeconds"),
            unit: "seconds"
        )
        mainMode.validate(at: path.appending("main mode"), into: &report)

        var ruleNames: Set<String> = []
        var sawDefaultResponse = false
        for (position, rule) in rules.enumerated() {
            let rulePath = path.appending(ValidationPath.rule(rule, index: position))
            if !rule.name.isEmpty, !ruleNames.insert(rule.name.lowercased()).inserted {
                report.add(rulePath.appending("name"), "another rule of this policy is already named \"\(rule.name)\"")
            }
            if rule.isDefaultResponse {
                if sawDefaultResponse {
                    report.add(rulePath, "a policy has at most one default response rule")
                }
                sawDefaultResponse = true
            }
            rule.validate(at: rulePath, in: store, index: index, into: &report)
        }
    }
}

extension MainModeSettings {
    func validate(at path: ValidationPath, into report: inout ValidationReport) {
        report.checkRange(
            lifetimeSeconds,
            ValidationLimits.mainModeLifetimeSeconds,
            at: path.appending("lifetimeSeconds"),
            unit: "seconds"
        )
        report.checkRange(
            quickModeLimit,
            ValidationLimits.quickModeLimit,
            at: path.appending("quickModeLimit"),
            unit: "quick modes"
        )
        if securityMethods.count < ValidationLimits.minimumMainModeMethods {
            report.add(path.appending("securityMethods"), "main mode needs at least one security method")
        }
        for (position, method) in securityMethods.enumerated() {
            let methodPath = path.appending("security method \(position + 1)")
            report.checkRange(
                method.lifetimeSeconds,
                ValidationLimits.mainModeLifetimeSeconds,
                at: methodPath.appending("lifetimeSeconds"),
                unit: "seconds"
            )
            report.checkRange(
                method.quickModeLimit,
                ValidationLimits.quickModeLimit,
                at: methodPath.appending("quickModeLimit"),
                unit: "quick modes"
            )
        }
    }
}
