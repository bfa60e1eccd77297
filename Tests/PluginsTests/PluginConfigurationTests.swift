import Foundation
import IPsecTestKit
import Testing

@testable import Plugins

@Suite struct PluginConfigurationTests {
    @Test func parsesEveryKey() throws {
        let text = """
            # the CMDB plugin
            path = libcmdb.so
            enabled = yes
            rank = 90
            isolation = in-process
            timeout = 2.5
            poll-interval = 60
            restart-delay = 0.5
            restart-delay-max = 30
            max-document-size = 4M
            memory-limit = 512M
            option.url = https://cmdb.example/api
            option.site = paris=1
            """
        let configuration = try PluginConfiguration.parse(text, file: "/etc/ipsecsvc/plugins.d/cmdb.conf")
        #expect(configuration.name == "cmdb")
        #expect(configuration.sourceName == "plugin:cmdb")
        #expect(configuration.path == "/usr/lib/ipsecsvc/plugins/libcmdb.so")
        #expect(configuration.enabled)
        #expect(configuration.rank == 90)
        #expect(configuration.isolation == .inProcess)
        #expect(configuration.timeout == .milliseconds(2500))
        #expect(configuration.pollInterval == .seconds(60))
        #expect(configuration.restartDelay == .milliseconds(500))
        #expect(configuration.restartDelayMax == .seconds(30))
        #expect(configuration.maxDocumentSize == 4 << 20)
        #expect(configuration.memoryLimit == 512 << 20)
        #expect(configuration.configurationString == "url=https://cmdb.example/api\nsite=paris=1")
    }

    @Test func defaultsAreOptIn() throws {
        let configuration = try PluginConfiguration.parse("path = /opt/p.so\nname = other", file: "x.conf")
        #expect(!configuration.enabled)
        #expect(configuration.name == "other")
        #expect(configuration.path == "/opt/p.so")
        #expect(configuration.isolation == .process)
        #expect(configuration.rank == nil)
    }

    @Test(
        arguments: [
            ("path = a.so\nenable = yes", 2, "unknown key \"enable\""),
            ("path = a.so\n\nrank = high", 3, "rank must be an integer"),
            ("path = a.so\npath = b.so", 2, "duplicate key \"path\" (first set on line 1)"),
            ("path = a.so\nisolation = thread", 2, "isolation must be process or in-process"),
            ("path = a.so\njust text", 2, "expected \"key = value\""),
            ("path = a.so\nenabled = maybe", 2, "enabled must be yes or no"),
            ("path = a.so\nmax-document-size = 0", 2, "max-document-size must be a positive size"),
            ("path = a.so\nname = bad name", 2, "name \"bad name\""),
        ]
    )
    func errorsNameFileAndLine(text: String, line: Int, message: String) {
        #expect {
            try PluginConfiguration.parse(text, file: "/etc/ipsecsvc/plugins.d/p.conf")
        } throws: { error in
            let error = error as? PluginConfigurationError
            return error?.line == line && error?.file == "/etc/ipsecsvc/plugins.d/p.conf"
                && (error?.description.hasPrefix("/etc/ipsecsvc/plugins.d/p.conf:\(line): ") ?? false)
                && (error?.message.contains(message) ?? false)
        }
    }

    @Test func missingPathIsAnError() {
        #expect(throws: PluginConfigurationError.self) {
            try PluginConfiguration.parse("enabled = yes", file: "p.conf")
        }
    }

    @Test func directoryLoadsGoodFilesAndReportsBadOnes() throws {
        let directory = TemporaryDirectory(prefix: "ipsecsvc-plugins.d").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "path = a.so\nenabled = yes\n".write(toFile: directory + "/10-a.conf", atomically: true, encoding: .utf8)
        try "path = b.so\ncolour = blue\n".write(toFile: directory + "/20-b.conf", atomically: true, encoding: .utf8)
        try "path = c.so\n".write(toFile: directory + "/30-c.conf", atomically: true, encoding: .utf8)
        try "not a plugin".write(toFile: directory + "/README", atomically: true, encoding: .utf8)

        let (configurations, errors) = PluginConfigurationDirectory.load(directory, pluginDirectory: "/plugins")
        #expect(configurations.map(\.name) == ["10-a", "30-c"])
        #expect(configurations.map(\.enabled) == [true, false])
        #expect(configurations.first?.path == "/plugins/a.so")
        #expect(
            errors.map(\.description) == [
                "\(directory)/20-b.conf:2: unknown key \"colour\" (known: name, path, enabled, rank, isolation, timeout, "
                    + "poll-interval, restart-delay, restart-delay-max, max-document-size, memory-limit, option.NAME)"
            ]
        )
    }

    @Test func missingDirectoryMeansNoPlugins() {
        let (configurations, errors) = PluginConfigurationDirectory.load("/nonexistent/plugins.d")
        #expect(configurations.isEmpty && errors.isEmpty)
    }
}

@Suite struct PluginFrameTests {
    @Test func framesRoundTripAndOversizedFramesAreRefused() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer {
            close(pair[0])
            close(pair[1])
        }
        try PluginFrameIO.write(PluginFrame(.document, text: "<policyStore/>"), to: pair[0])
        try PluginFrameIO.write(PluginFrame(.changed), to: pair[0])
        try PluginFrameIO.write(PluginFrame(.document, [UInt8](repeating: 32, count: 2000)), to: pair[0])
        #expect(try PluginFrameIO.read(from: pair[1], limit: 1000) == PluginFrame(.document, text: "<policyStore/>"))
        #expect(try PluginFrameIO.read(from: pair[1], limit: 1000) == PluginFrame(.changed))
        #expect(throws: PluginFrameIO.Failure.self) { try PluginFrameIO.read(from: pair[1], limit: 1000) }
    }

    @Test func pluginInfoRoundTrips() {
        let info = PluginInfo(
            name: "cmdb",
            version: "1.2",
            kind: .directoryLike,
            defaultRank: -5,
            pollIntervalSeconds: 7
        )
        #expect(PluginInfo(encoded: info.encoded) == info)
    }
}
