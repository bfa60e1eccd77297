import Testing

/// Every command's `--help` carries examples (issue 2: "`--help` on every command with examples").
@Suite struct CommandHelpTests {
    static let commands: [[String]] = [
        ["policy"], ["policy", "validate"], ["policy", "show"], ["policy", "convert"], ["policy", "import"],
        ["policy", "export"], ["run"], ["boot"], ["service"], ["service", "query"], ["service", "start"],
        ["service", "stop"], ["service", "restart"], ["service", "refresh"], ["service", "config"], ["status"],
        ["explain"], ["plugin-host"],
    ]

    @Test(arguments: commands)
    func helpShowsExamples(command: [String]) async throws {
        let result = try await IPsecSvcProcess.run(command + ["--help"])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("Examples:"), "\(command.joined(separator: " ")) --help")
    }
}
