public import DecisionCore
import IPsecSystem
public import Keying

#if canImport(Glibc)
import Glibc
#endif

/// Whether the service negotiates IKE (`ike`).
public enum KeyingMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// Through strongSwan's charon over vici (docs/keying.md): the default.
    case strongswan
    /// No IKE: a negotiate filter only checks whether kernel IPsec already protects the packet, and
    /// `soft` sends in the clear at once.
    case none
}

/// Which `IPsecDriver` implementation the service uses.
public enum DriverKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// Filters nothing and touches no kernel rule; records its mode in `driver-state`: for tests and for
    /// trying the service out.
    case memory
    /// The NFQUEUE driver (Driver module): the default.
    case netfilter
}

/// Whether `service start|stop|config` go through systemd.
public enum SystemdUse: String, Hashable, Sendable, Codable {
    /// Use systemctl when systemd runs the machine (`/run/systemd/system` exists).
    case auto
    case yes
    case no
}

/// `/etc/ipsecsvc/ipsecsvc.conf` resolved with the command-line and environment overrides
/// (flag, then environment, then file, then default). The format is documented in docs/service.md.
public struct ServiceConfiguration: Hashable, Sendable, Codable {
    public static let defaultPath = "/etc/ipsecsvc/ipsecsvc.conf"
    public static let defaultStateDirectory = "/var/lib/ipsecsvc"
    public static let defaultSocketPath = "/run/ipsecsvc/control.sock"

    /// The file the settings were read from (`nil`: embedded defaults, no file).
    public var configPath: String?
    /// Default startup type until `service config` records one in the state directory.
    public var startType: StartupType = .automatic
    public var stateDirectory: String = Self.defaultStateDirectory
    public var socketPath: String = Self.defaultSocketPath
    /// Permissions of the control socket.
    public var socketMode: UInt32 = 0o660
    /// Members of this group (and root) may use the control socket.
    public var adminGroup: String = "ipsecadm"
    /// Where `run` records its PID (used by `service stop` without systemd).
    public var pidFile: String?
    /// The driver process's private socket (`driver_socket`); default `driver.sock` beside the control
    /// socket. Its directory also holds the driver's last accepted table (`driver-table`).
    public var driverSocket: String?
    public var driver: DriverKind = .netfilter
    public var pluginDirectory: String = "/usr/lib/ipsecsvc/plugins"
    public var pluginConfigDirectory: String = "/etc/ipsecsvc/plugins.d"
    /// Per-connection read/write timeout of the control socket, seconds.
    public var requestTimeoutSeconds: Int = 5
    /// Largest request the control socket accepts, bytes.
    public var maxRequestBytes: Int = 1 << 20
    /// How long a graceful stop may take before the service gives up waiting, seconds (keep it below
    /// the unit's `TimeoutStopSec`).
    public var stopTimeoutSeconds: Int = 20
    public var systemd: SystemdUse = .auto
    /// This computer's DN in the directory; the directory source is used only when it is set.
    public var computerDN: String?
    /// The directory snapshot (LDIF or DSMLv2) to read; default `<state_dir>/directory-snapshot`.
    public var directorySnapshot: String?
    /// This computer's site (name or DN).
    public var site: String?
    /// Overrides the directory policy's own polling interval, minutes.
    public var directoryPollingMinutes: Int?
    /// How often group policy re-reads the assignments, minutes (Windows: 90).
    public var groupPolicyRefreshMinutes: Int = 90
    /// The systemd unit names.
    public var serviceUnit: String = "ipsecsvc.service"
    public var bootUnit: String = "ipsecsvc-boot.service"
    public var driverUnit: String = "ipsecsvc-driver.service"
    /// A program whose non-zero exit means the directory is unreachable (`directory_check`): the cached
    /// copy of the directory policy then applies.
    public var directoryCheck: String?
    /// Seconds the `directory_check` program may run before it is killed and the directory counts as
    /// unreachable (`directory_check_timeout`).
    public var directoryCheckTimeoutSeconds: Int = 30
    /// Whether a new local store starts with Windows' three example policies (`examples`, default yes;
    /// `ipsecsvc run --no-examples`), as a fresh Windows install has them. Only a missing local store is
    /// ever filled.
    public var examples = true
    /// `dialup_interfaces`: shell patterns of interface names that count as remote access (dial-up)
    /// connections besides the point-to-point links the kernel reports (PPP, SLIP, ISDN, WWAN), for
    /// the connection type of rules.
    public var dialupInterfaces: [String] = []
    /// `directory`: where directory policy comes from; `nil`: a snapshot when `computer_dn` is set, else none.
    public var directoryMode: DirectoryMode?
    /// The live directory (`directory = ldap`), docs/policy-sources.md §4.
    public var ldap = LDAPSettings()
    /// `ike`: IKE through strongSwan, or none.
    public var ike: KeyingMode = .strongswan
    /// `ike_vici_socket`: charon's vici socket.
    public var ikeViciSocket: String = "/run/charon.vici"
    /// `ike_datapath`: kernel XFRM or strongSwan's kernel-libipsec.
    public var ikeDatapath: KeyingDatapath = .kernel
    /// `ike_libipsec_interface`: kernel-libipsec's TUN device.
    public var ikeLibipsecInterface: String = "ipsec0"
    /// `ike_ca_dir`: root CA certificates that certificate rules name.
    public var ikeCADirectory: String?
    /// `ike_cert_dir`: this computer's certificates and private keys.
    public var ikeCertificateDirectory: String?

    public init() {}

    /// How the driver and `explain` tell LAN from remote access interfaces.
    public var interfaceClassifier: InterfaceClassifier { InterfaceClassifier(dialupPatterns: dialupInterfaces) }

    /// The keying settings of this configuration (`nil` with `ike = none`).
    public var keyingSettings: KeyingSettings? {
        guard ike == .strongswan else { return nil }
        return KeyingSettings(
            viciSocket: ikeViciSocket,
            datapath: ikeDatapath,
            libipsecInterface: ikeLibipsecInterface,
            caDirectory: ikeCADirectory,
            certificateDirectory: ikeCertificateDirectory
        )
    }

    /// The PID file `run` writes: the configured one, or `ipsecsvc.pid` beside the socket.
    public var effectivePIDFile: String {
        pidFile ?? FileSystem.directory(of: socketPath) + "/ipsecsvc.pid"
    }

    /// The driver process's socket: the configured one, or `driver.sock` beside the control socket.
    public var driverSocketPath: String {
        driverSocket ?? FileSystem.directory(of: socketPath) + "/driver.sock"
    }

    /// The driver's last accepted table and mode, beside its socket: in `/run` by default, so it survives
    /// a crash of the driver process (restart: the table is enforced at once) but not a reboot (computer
    /// startup: the startup mode applies until the service has applied its policy).
    public var driverTablePath: String { FileSystem.directory(of: driverSocketPath) + "/driver-table" }

    /// The driver process's output when the service starts it itself (without systemd).
    public var driverLogFile: String { stateDirectory + "/ipsecsvc-driver.log" }

    /// The service's own log when `service start` runs it without systemd.
    public var detachedLogFile: String { stateDirectory + "/ipsecsvc.log" }

    /// Loads the configuration.
    /// - Parameters:
    ///   - path: `--config`; when `nil` the default path is read if it exists, else embedded defaults apply.
    ///   - stateDirectory: `--state-dir` (wins over `IPSECSVC_STATE_DIR` and the file).
    ///   - socketPath: `--socket` (wins over `IPSECSVC_SOCKET` and the file).
    /// - Throws: ``ConfigurationError`` naming the file and line of an unknown key or a bad value.
    public static func load(
        path: String? = nil,
        stateDirectory: String? = nil,
        socketPath: String? = nil
    ) throws(ConfigurationError) -> ServiceConfiguration {
        var configuration = ServiceConfiguration()
        let file = path ?? defaultPath
        let text: String?
        do {
            text = try FileSystem.readTextIfPresent(file, limit: 1 << 20)
        } catch {
            throw ConfigurationError(path: file, line: 0, message: "cannot be read: \(error)")
        }
        if let text {
            try configuration.apply(KeyValueFile(path: file, text: text))
            configuration.configPath = file
        } else if path != nil {
            throw ConfigurationError(path: file, line: 0, message: "no such file")
        }
        if let directory = stateDirectory ?? CurrentProcess.environment("IPSECSVC_STATE_DIR"), !directory.isEmpty {
            configuration.stateDirectory = directory
        }
        if let socket = socketPath ?? CurrentProcess.environment("IPSECSVC_SOCKET"), !socket.isEmpty {
            configuration.socketPath = socket
        }
        if let text = CurrentProcess.environment("IPSECSVC_DRIVER"), !text.isEmpty {
            guard let kind = DriverKind(rawValue: text) else {
                throw ConfigurationError(
                    path: "IPSECSVC_DRIVER",
                    line: 0,
                    message: "invalid value '\(text)': expected memory or netfilter"
                )
            }
            configuration.driver = kind
        }
        if let text = CurrentProcess.environment("IPSECSVC_SYSTEMD"), !text.isEmpty {
            guard let use = SystemdUse(rawValue: text) else {
                throw ConfigurationError(
                    path: "IPSECSVC_SYSTEMD",
                    line: 0,
                    message: "invalid value '\(text)': expected auto, yes or no"
                )
            }
            configuration.systemd = use
        }
        return configuration
    }

    /// Parses configuration text (for tests and `--config` files).
    public static func parse(_ text: String, path: String) throws(ConfigurationError) -> ServiceConfiguration {
        var configuration = ServiceConfiguration()
        try configuration.apply(KeyValueFile(path: path, text: text))
        configuration.configPath = path
        return configuration
    }

    private mutating func apply(_ file: KeyValueFile) throws(ConfigurationError) {
        for entry in file.entries {
            func bad(_ expected: String) -> ConfigurationError {
                ConfigurationError(
                    path: file.path,
                    line: entry.line,
                    message: "invalid value '\(entry.value)' for '\(entry.key)': expected \(expected)"
                )
            }
            func path() throws(ConfigurationError) -> String {
                guard entry.value.hasPrefix("/") else { throw bad("an absolute path") }
                return entry.value
            }
            func integer(_ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
                guard let number = Int(entry.value), range.contains(number) else {
                    throw bad("an integer \(range.lowerBound)–\(range.upperBound)")
                }
                return number
            }
            switch entry.key {
            case "start_type":
                guard let type = StartupType(parsing: entry.value) else {
                    throw bad("automatic, manual or disabled")
                }
                startType = type
            case "state_dir": stateDirectory = try path()
            case "socket": socketPath = try path()
            case "socket_mode":
                guard let mode = UInt32(entry.value, radix: 8), mode <= 0o777 else { throw bad("an octal mode") }
                socketMode = mode
            case "admin_group":
                guard !entry.value.isEmpty, !entry.value.contains(" ") else { throw bad("a group name") }
                adminGroup = entry.value
            case "pid_file": pidFile = try path()
            case "driver_socket": driverSocket = try path()
            case "driver":
                guard let kind = DriverKind(rawValue: entry.value) else { throw bad("memory or netfilter") }
                driver = kind
            case "plugin_dir": pluginDirectory = try path()
            case "plugin_conf_dir": pluginConfigDirectory = try path()
            case "request_timeout": requestTimeoutSeconds = try integer(1...300)
            case "max_request_bytes": maxRequestBytes = try integer(1024...(64 << 20))
            case "stop_timeout": stopTimeoutSeconds = try integer(1...3600)
            case "systemd":
                guard let use = SystemdUse(rawValue: entry.value) else { throw bad("auto, yes or no") }
                systemd = use
            case "computer_dn":
                guard !entry.value.isEmpty else { throw bad("a distinguished name") }
                computerDN = entry.value
            case "directory_snapshot": directorySnapshot = try path()
            case "site": site = entry.value
            case "directory_polling_minutes": directoryPollingMinutes = try integer(1...43_200)
            case "group_policy_refresh_minutes": groupPolicyRefreshMinutes = try integer(1...43_200)
            case "service_unit": serviceUnit = entry.value
            case "boot_unit": bootUnit = entry.value
            case "driver_unit": driverUnit = entry.value
            case "directory_check": directoryCheck = try path()
            case "directory_check_timeout": directoryCheckTimeoutSeconds = try integer(1...3600)
            case "examples":
                switch entry.value.lowercased() {
                case "yes", "true": examples = true
                case "no", "false": examples = false
                default: throw bad("yes or no")
                }
            case "dialup_interfaces":
                let patterns = entry.value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(
                    String.init
                )
                guard patterns.allSatisfy({ !$0.contains("/") }) else {
                    throw bad("shell patterns of interface names separated by spaces (no '/')")
                }
                dialupInterfaces = patterns
            case "directory":
                guard let mode = DirectoryMode(rawValue: entry.value) else { throw bad("ldap, snapshot or none") }
                directoryMode = mode
            case _ where LDAPSettings.keys.contains(entry.key):
                try ldap.apply(entry.key, entry.value, bad: bad, path: path, integer: integer)
            case "ike":
                guard let mode = KeyingMode(rawValue: entry.value) else { throw bad("strongswan or none") }
                ike = mode
            case "ike_vici_socket": ikeViciSocket = try path()
            case "ike_datapath":
                guard let datapath = KeyingDatapath(rawValue: entry.value) else { throw bad("kernel or libipsec") }
                ikeDatapath = datapath
            case "ike_libipsec_interface":
                // The name goes into iptables rules: an interface name and nothing else.
                let allowed = entry.value.allSatisfy {
                    $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0))
                }
                guard allowed, (1...15).contains(entry.value.count) else {
                    throw bad("an interface name (1–15 letters, digits, - _ .)")
                }
                ikeLibipsecInterface = entry.value
            case "ike_ca_dir": ikeCADirectory = try path()
            case "ike_cert_dir": ikeCertificateDirectory = try path()
            default:
                throw ConfigurationError(path: file.path, line: entry.line, message: "unknown key '\(entry.key)'")
            }
        }
        try checkDirectory(file)
    }

    /// Whether service control goes through systemctl.
    public var usesSystemd: Bool {
        switch systemd {
        case .yes: true
        case .no: false
        case .auto: FileSystem.exists("/run/systemd/system")
        }
    }
}
