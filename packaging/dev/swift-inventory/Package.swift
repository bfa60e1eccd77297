// swift-tools-version:6.0
// The inventory example plugin, built against the installed plugin kit (package ipsecsvc-dev):
//   cp -r /usr/share/doc/ipsecsvc-dev/examples/swift-inventory ~/inventory && cd ~/inventory
//   swift build -c release          # → .build/release/libInventoryPlugin.so
//   ipsecsvc plugin-host --check .build/release/libInventoryPlugin.so --option inventory=$PWD/inventory.json
import PackageDescription

let package = Package(
    name: "inventory-plugin",
    products: [.library(name: "InventoryPlugin", type: .dynamic, targets: ["InventoryPlugin"])],
    dependencies: [.package(path: "/usr/share/ipsecsvc/plugin-kit")],
    targets: [
        .target(name: "InventoryPlugin", dependencies: [.product(name: "IPsecPluginKit", package: "plugin-kit")])
    ],
    swiftLanguageModes: [.v6]
)
