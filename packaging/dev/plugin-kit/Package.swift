// swift-tools-version:6.0
// The ipsecsvc plugin kit as installed by the ipsecsvc-dev package in /usr/share/ipsecsvc/plugin-kit:
// the same two products as the ipsecsvc repository (docs/plugins.md). A plugin package depends on it
//   .package(path: "/usr/share/ipsecsvc/plugin-kit")
//   .product(name: "IPsecPluginKit", package: "plugin-kit")
// and must be built with the Swift version in SWIFT_VERSION beside this file: the plugin binds to the
// Swift runtime that ipsecsvc ships in /usr/lib/ipsecsvc/swift.
import PackageDescription

let package = Package(
    name: "ipsecsvc-plugin-kit",
    products: [
        // The plugin contract: a plain C header (also /usr/include/ipsecsvc/ipsec_plugin.h).
        .library(name: "IPsecPluginABI", targets: ["CIPsecPluginABI"]),
        // Swift plugins: one protocol and one exported line.
        .library(name: "IPsecPluginKit", targets: ["IPsecPluginKit"]),
    ],
    targets: [
        .target(name: "CIPsecPluginABI"),
        .target(name: "IPsecPluginKit", dependencies: ["CIPsecPluginABI"]),
    ],
    swiftLanguageModes: [.v6]
)
