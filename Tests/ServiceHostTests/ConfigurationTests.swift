import DecisionCore
import Driver
import IPsecTestKit
import PolicyModel
import ServiceHost
import Testing

@Suite struct ConfigurationTests {
    @Test func parsesEveryKey() throws {
        let text = """
            # comment
            start_type = demand
            state_dir = /srv/ipsec
            socket = "/srv/ipsec/control.sock"
            socket_mode = 0600
            admin_group = netadm
            driver = memory
            request_timeout = 9
            max_request_bytes = 4096
            stop_timeout = 15
            systemd = no
            """
        let configuration = try ServiceConfiguration.parse(text, path: "/etc/x.conf")
        #expect(configuration.startType == .manual)
        #expect(configuration.stateDirectory == "/srv/ipsec")
        #expect(configuration.socketPath == "/srv/ipsec/control.sock")
        #expect(configuration.socketMode == 0o600)
        #expect(configuration.adminGroup == "netadm")
        #expect(configuration.requestTimeoutSeconds == 9)
        #expect(configuration.maxRequestBytes == 4096)
        #expect(configuration.usesSystemd == false)
        #expect(configuration.effectivePIDFile == "/srv/ipsec/ipsecsvc.pid")
        #expect(configuration.dialupInterfaces.isEmpty)
    }

    @Test func dialupInterfacesAreShellPatterns() throws {
        let configuration = try ServiceConfiguration.parse("dialup_interfaces = wg*, tun-dial? ppp[0-9]\n", path: "/x")
        #expect(configuration.dialupInterfaces == ["wg*", "tun-dial?", "ppp[0-9]"])
        #expect(
            configuration.interfaceClassifier.classify(name: "wg0", hardwareType: 65534, deviceType: nil).kind
                == .remoteAccess
        )
        #expect(throws: ConfigurationError.self) {
            try ServiceConfiguration.parse("dialup_interfaces = a/b\n", path: "/x")
        }
    }

    @Test(arguments: [
        ("start_type = auto\ncolour = blue\n", 2, "unknown key 'colour'"),
        ("\n\nstart_type = sometimes\n", 3, "invalid value 'sometimes' for 'start_type'"),
        ("state_dir = relative/path\n", 1, "expected an absolute path"),
        ("request_timeout = 0\n", 1, "expected an integer 1–300"),
        ("driver = fast\n", 1, "expected memory or netfilter"),
        ("socket_mode = 999\n", 1, "expected an octal mode"),
        ("start_type = auto\nstart_type = manual\n", 2, "already set on line 1"),
        ("just words\n", 1, "expected 'key = value'"),
    ])
    func errorsNameFileAndLine(text: String, line: Int, fragment: String) {
        #expect {
            _ = try ServiceConfiguration.parse(text, path: "/etc/ipsecsvc/ipsecsvc.conf")
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.path == "/etc/ipsecsvc/ipsecsvc.conf" && error.line == line
                && error.description.hasPrefix("/etc/ipsecsvc/ipsecsvc.conf:\(line): ")
                && error.description.contains(fragment)
        }
    }

    @Test func explicitMissingFileIsAnError() {
        #expect(throws: ConfigurationError.self) {
            _ = try ServiceConfiguration.load(path: "/nonexistent/ipsecsvc.conf")
        }
    }

    @Test func flagsWinOverTheFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.write("c.conf", "state_dir = /from/file\nsocket = /from/file.sock\n")
        let fromFile = try ServiceConfiguration.load(path: file)
        #expect(fromFile.stateDirectory == "/from/file")
        let overridden = try ServiceConfiguration.load(path: file, stateDirectory: "/flag", socketPath: "/flag.sock")
        #expect(overridden.stateDirectory == "/flag")
        #expect(overridden.socketPath == "/flag.sock")
    }

    @Test func startTypeSpellings() {
        #expect(StartupType(parsing: "auto") == .automatic)
        #expect(StartupType(parsing: "Automatic") == .automatic)
        #expect(StartupType(parsing: "demand") == .manual)
        #expect(StartupType(parsing: "manual") == .manual)
        #expect(StartupType(parsing: "disabled") == .disabled)
        #expect(StartupType(parsing: "boot") == nil)
        #expect(StartupType.automatic.scName == "AUTO_START")
        #expect(StartupType.manual.scCode == 3)
    }
}

@Suite struct DynamicSettingsTests {
    @Test func settingsAndStartTypeSurviveARestart() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = ServiceStateStore(directory: directory.path + "/state")
        #expect(try store.startType() == nil)
        var settings = DynamicSettings()
        try settings.set(property: "bootmode", value: "stateful")
        try settings.set(property: "bootexemptions", value: "tcp:0:22:inbound")
        try settings.set(property: "ipsecloginterval", value: "600")
        try store.changeDynamicSettings { $0 = settings }
        try store.setStartType(.manual)

        // A new store value is what a new process sees.
        let reopened = ServiceStateStore(directory: directory.path + "/state")
        #expect(try reopened.dynamicSettings() == settings)
        #expect(try reopened.startType() == .manual)
        var configuration = ServiceConfiguration()
        configuration.startType = .automatic
        #expect(try reopened.effectiveStartType(configuration) == .manual)
    }

    @Test func brokenStateFileNamesLine() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        _ = directory.write("dynamic-settings.conf", "ipsecexempt = 3\nipsecdiagnostics = 9\n")
        #expect {
            _ = try ServiceStateStore(directory: directory.path).dynamicSettings()
        } throws: { error in
            (error as? ConfigurationError)?.line == 2
        }
    }
}
