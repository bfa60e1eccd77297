// swift-tools-version:6.2
import PackageDescription

// MARK: - Dependencies

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let unixSignals: Target.Dependency = .product(name: "UnixSignals", package: "swift-service-lifecycle")

let package = Package(
    name: "ipsecsvc",
    products: [
        .executable(name: "ipsecsvc", targets: ["ipsecsvc"]),
        // The plugin contract: a plain C header that third-party packages (or C/Rust code) depend on.
        .library(name: "IPsecPluginABI", targets: ["CIPsecPluginABI"]),
        // Swift plugins: one protocol and one exported line (docs/plugins.md). No unsafeFlags here.
        .library(name: "IPsecPluginKit", targets: ["IPsecPluginKit"]),
        // The Swift example plugin (Examples/swift-inventory); the plugin tests load it.
        .library(name: "InventoryPlugin", type: .dynamic, targets: ["InventoryPlugin"]),
        // For the package-benchmark suite in Benchmarks/Suite, a package of its own that depends on
        // this one by path (so that `swift build` and `swift test` here never build the benchmark tool).
        .library(
            name: "IPsecBenchmarkTargets",
            targets: ["PolicyModel", "PolicyFormats", "Providers", "DecisionCore", "IPsecTestKit"]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // MARK: - System libraries and headers
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .systemLibrary(
            name: "CNetfilterQueue",
            pkgConfig: "libnetfilter_queue",
            providers: [.apt(["libnetfilter-queue-dev", "libmnl-dev"])]
        ),
        // OpenLDAP's libldap for the live directory (SASL GSSAPI needs libsasl2-modules-gssapi-mit at run time).
        .systemLibrary(
            name: "CLDAP",
            pkgConfig: "ldap",
            providers: [.apt(["libldap-dev", "libsasl2-modules-gssapi-mit"])]
        ),
        // The DNS resolver's per-thread limits for the DC locator (a C file: <resolv.h> stays out of Swift).
        .target(name: "CResolverLimits"),
        .target(name: "CIPsecPluginABI"),
        // The few Linux calls Swift cannot make (wait-status macros, SO_PEERCRED, accept4, pidfd, spawn
        // attributes behind _GNU_SOURCE); used by IPsecSystem only.
        .target(name: "CIPsecSystem"),

        // MARK: - Modules
        // The system layer: errno errors, bounded reads, durable writes, child processes, the blocking
        // pool, threads, interface addresses, peer credentials (DESIGN.md §2 and §7).
        .target(name: "IPsecSystem", dependencies: ["CIPsecSystem"]),
        .target(name: "PolicyModel"),
        .target(name: "PolicyFormats", dependencies: ["PolicyModel", "IPsecSystem", "CLibXML2"]),
        // The netsh command engine (shell, static and dynamic sessions, show, dump); a script reader codec.
        .target(name: "Netsh", dependencies: ["PolicyModel", "PolicyFormats", "DecisionCore", "Keying"]),
        .target(
            name: "Providers",
            dependencies: ["PolicyModel", "PolicyFormats", "DecisionCore", "IPsecSystem", "CLDAP", "CResolverLimits"]
        ),
        // The pure packet decision (compiler, table, exemptions, modes, packet view, host information),
        // shared by the driver and explain: no C targets, no Foundation.
        .target(name: "DecisionCore", dependencies: ["PolicyModel"]),
        .target(
            name: "Driver",
            dependencies: ["DecisionCore", "PolicyModel", "IPsecSystem", "CNetfilterQueue", logging]
        ),
        // IKE through strongSwan's charon over vici (docs/keying.md).
        .target(name: "Keying", dependencies: ["DecisionCore", "PolicyModel", "IPsecSystem"]),
        .target(name: "Plugins", dependencies: ["Providers", "PolicyFormats", "IPsecSystem", "CIPsecPluginABI"]),
        .target(name: "IPsecPluginKit", dependencies: ["CIPsecPluginABI"]),
        // Test doubles and helpers shared by every test target; never a dependency of production code.
        .target(
            name: "IPsecTestKit",
            dependencies: [
                "DecisionCore", "Driver", "IPsecSystem", "Keying", "Netsh", "PolicyModel", "Providers", "ServiceHost",
            ]
        ),
        .target(
            name: "ServiceHost",
            dependencies: [
                "PolicyModel", "PolicyFormats", "Netsh", "Providers", "DecisionCore", "Driver", "Keying", "Plugins",
                "IPsecSystem", "CSystemd", logging,
                serviceLifecycle, unixSignals,
            ]
        ),
        .executableTarget(
            name: "ipsecsvc",
            dependencies: [
                "ServiceHost", "Providers", "PolicyFormats", "Netsh", "PolicyModel", "DecisionCore", "Driver",
                "Keying", "Plugins", "IPsecSystem",
                argumentParser,
            ]
        ),
        // The driver outside the service: root integration tests and nfq-bench (Benchmarks/driver).
        .executableTarget(
            name: "ipsecsvc-driver-harness",
            dependencies: ["DecisionCore", "Driver", "IPsecTestKit", "PolicyModel"],
            path: "Benchmarks/driver/Harness"
        ),
        // The mis-verdict checker: the real driver under load while policies change (Benchmarks/misverdict).
        .executableTarget(
            name: "ipsecsvc-misverdict",
            dependencies: ["DecisionCore", "Driver", "IPsecTestKit", "PolicyModel"],
            path: "Benchmarks/misverdict/checker"
        ),
        // Classifier cost at 1k/10k/100k filters; not part of `swift test`.
        .executableTarget(
            name: "ipsecsvc-driver-bench",
            dependencies: ["DecisionCore", "IPsecTestKit", "PolicyModel"],
            path: "Benchmarks/driver/ClassifierBench"
        ),
        // The table hand-over from the agent to the driver process; not part of `swift test`.
        .executableTarget(
            name: "ipsecsvc-link-bench",
            dependencies: ["ServiceHost", "IPsecSystem", "IPsecTestKit", "PolicyModel"],
            path: "Benchmarks/driver/LinkBench"
        ),
        // Providers: the crash-safety test's store writer (killed at random by ProvidersTests).
        .executableTarget(
            name: "ProvidersStoreWriter",
            dependencies: ["Providers", "PolicyFormats", "PolicyModel"],
            path: "Tests/ProvidersStoreWriter"
        ),
        // The live directory against a Samba DC: reads vs ldapsearch, poll to table (Benchmarks/ldap/run.sh).
        .executableTarget(
            name: "ipsecsvc-ldap-bench",
            dependencies: ["IPsecTestKit", "IPsecSystem", "Providers", "DecisionCore", "PolicyFormats", "PolicyModel"],
            path: "Benchmarks/ldap/LDAPBench"
        ),
        // Keying: first packet to first protected packet, and loading N peers' rules into charon
        // (Benchmarks/keying/run.sh); not part of `swift test`.
        .executableTarget(
            name: "ipsecsvc-keying-bench",
            dependencies: ["DecisionCore", "IPsecSystem", "IPsecTestKit", "Keying", "PolicyModel"],
            path: "Benchmarks/keying/KeyingBench"
        ),
        // The native XML benchmark and canonicalizer; not part of `swift test` (Benchmarks/xml/run.sh).
        .executableTarget(
            name: "xml-bench",
            dependencies: ["IPsecTestKit", "PolicyFormats", "PolicyModel"],
            path: "Benchmarks/xml/xml-bench"
        ),

        // How the policy file readers scale with the filter count; not part of `swift test`
        // (Benchmarks/readers/run.sh).
        .executableTarget(
            name: "reader-bench",
            dependencies: ["IPsecTestKit", "Netsh", "PolicyFormats", "PolicyModel"],
            path: "Benchmarks/readers/reader-bench"
        ),

        // MARK: - Fuzzing (Fuzz/README.md)
        // The fuzz harness (parsers with round-trip oracles, a mutation engine), shared by the tool and
        // by the test suite's short slice; the tool runs under libFuzzer or as a bounded mutation loop.
        .target(
            name: "FormatFuzzing",
            dependencies: ["PolicyFormats", "PolicyModel", "DecisionCore", "IPsecTestKit", "Netsh", "ServiceHost"],
            path: "Fuzz/FormatFuzzing"
        ),
        .executableTarget(name: "ipsecsvc-fuzz", dependencies: ["FormatFuzzing"], path: "Fuzz/ipsecsvc-fuzz"),

        // MARK: - Examples
        .target(
            name: "InventoryPlugin",
            dependencies: ["IPsecPluginKit"],
            path: "Examples/swift-inventory",
            exclude: ["README.md", "inventory.json"]
        ),

        // MARK: - Tests
        .testTarget(name: "IPsecSystemTests", dependencies: ["IPsecTestKit", "IPsecSystem"]),
        .testTarget(name: "PolicyModelTests", dependencies: ["IPsecTestKit", "PolicyModel"]),
        .testTarget(
            name: "PolicyFormatsTests",
            dependencies: ["IPsecTestKit", "PolicyFormats", "PolicyModel", "Keying", "FormatFuzzing"],
            // Real Windows-written data and bad-input corpora (windows/, reg/, ldif/, dsml/, fuzz/).
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "NetshTests",
            dependencies: ["DecisionCore", "IPsecTestKit", "Keying", "Netsh", "PolicyFormats", "PolicyModel"],
            // The administrator script corpus and golden files, read by path from the source tree.
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ProvidersTests",
            // Driver: the explain agreement test decides through the driver's entry path.
            dependencies: [
                "IPsecTestKit", "Providers", "PolicyFormats", "PolicyModel", "DecisionCore", "Driver", "IPsecSystem",
            ],
            // Directory snapshots (LDIF, DSMLv2), read by path from the source tree.
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "DecisionCoreTests", dependencies: ["IPsecTestKit", "DecisionCore", "PolicyModel"]),
        .testTarget(
            name: "DriverTests",
            dependencies: [
                "IPsecTestKit", "DecisionCore", "Driver", "PolicyModel",
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        // Fixtures/ holds vici frames recorded from charon 5.9.8 and a throw-away test CA.
        .testTarget(
            name: "KeyingTests",
            dependencies: ["IPsecTestKit", "Keying", "PolicyModel"],
            exclude: ["Fixtures"]
        ),
        // Fixtures/ holds C test plugins that the tests compile with cc.
        .testTarget(
            name: "PluginsTests",
            dependencies: ["IPsecTestKit", "Plugins", "Providers", "PolicyFormats", "PolicyModel", "DecisionCore"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ServiceHostTests",
            dependencies: [
                "IPsecTestKit", "ServiceHost", "DecisionCore", "Driver", "Keying", "Providers", "Netsh",
                "PolicyFormats", "PolicyModel", "IPsecSystem", logging,
            ]
        ),
        // Runs the built `ipsecsvc` executable; the root-only cases use network namespaces they create.
        // Fixtures/ holds the scripts that provision the Samba AD domain controller of the directory tests.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "IPsecSystem", "IPsecTestKit", "ipsecsvc", "ipsecsvc-driver-harness", "Keying", "PolicyModel",
            ],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// MARK: - Strict settings for every Swift target

for target in package.targets where [.executable, .test, .regular].contains(target.type) {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    settings.append(.enableUpcomingFeature("NonisolatedNonsendingByDefault"))
    settings.append(.define("ENABLE_MOCKING", .when(configuration: .debug)))
    target.swiftSettings = settings
}
