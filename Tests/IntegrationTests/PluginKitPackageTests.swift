import Foundation
import IPsecTestKit
import Testing

/// The plugin kit as `ipsecsvc-dev` installs it, used the way its documentation says: the C example built
/// with the header found through pkg-config, the Swift example built against the installed Swift package,
/// and both checked by the packaged `ipsecsvc plugin-host`, which runs on the Swift runtime the package
/// bundles. The Swift plugin must bind to that one runtime, not load a second one from the toolchain
/// (the reason the runtime is bundled rather than linked statically, docs/packaging.md).
@Suite(
    .serialized,
    .requires(
        .command("dpkg-deb", package: "dpkg"),
        .command("pkg-config", package: "pkg-config"),
        .command("cc", package: "gcc"),
        .check(MachineRequirement.executablePath("swift") != nil, "swift in PATH (the Swift toolchain)")
    )
)
struct PluginKitPackageTests {
    @Test func installedKitBuildsPluginsThatThePackagedHostLoads() async throws {
        let packages = try await TestPackages.directory()
        let root = TemporaryDirectory(prefix: "ipsecsvc-kit")
        defer { root.remove() }
        // The packages' files under root.path, as dpkg would put them under /.
        let unpacked = await sh(
            "dpkg-deb -x \(try TestPackages.file("ipsecsvc", in: packages)) \(root.path) && "
                + "dpkg-deb -x \(try TestPackages.file("ipsecsvc-dev", in: packages)) \(root.path)"
        )
        try #require(unpacked.status == 0, "\(unpacked.output)")
        let usr = root.path + "/usr"
        let host = usr + "/sbin/ipsecsvc"
        let examples = usr + "/share/doc/ipsecsvc-dev/examples"

        // C: the header through pkg-config (its prefix moved to where the package was unpacked).
        let c = await sh(
            """
            set -e
            cd \(root.path)
            flags=$(PKG_CONFIG_PATH=\(usr)/share/pkgconfig pkg-config --define-variable=prefix=\(usr) --cflags ipsecsvc-plugin)
            cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -fvisibility=hidden $flags -o libxmldir.so \(examples)/c-xmldir/xmldir.c -lpthread
            mkdir -p policies && cp \(usr)/share/ipsecsvc/policies-xml/block-telnet-smb.xml policies/10-site.xml
            \(host) plugin-host --check ./libxmldir.so --option directory=\(root.path)/policies
            """
        )
        #expect(c.status == 0 && c.output.contains("result:    OK"), "\(c.output)")

        // Swift: the example package, pointed at the unpacked kit instead of /usr/share/ipsecsvc/plugin-kit.
        let kit = usr + "/share/ipsecsvc/plugin-kit"
        let version = try String(contentsOfFile: kit + "/SWIFT_VERSION", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let toolchain = await sh("swift --version 2>&1").output
        #expect(
            toolchain.contains("Swift version \(version) "),
            "SWIFT_VERSION \(version) names this toolchain: \(toolchain)"
        )
        let swift = await sh(
            """
            set -e
            cp -r \(examples)/swift-inventory \(root.path)/inventory
            cd \(root.path)/inventory
            sed -i 's|/usr/share/ipsecsvc/plugin-kit|\(kit)|' Package.swift
            swift build --product InventoryPlugin 2>&1 | tail -5
            LD_DEBUG=libs \(host) plugin-host --check .build/debug/libInventoryPlugin.so \
                --option inventory=\(root.path)/inventory/inventory.json 2> ld-debug.log
            """
        )
        #expect(swift.status == 0 && swift.output.contains("result:    OK"), "\(swift.output)")
        // Every libswiftCore.so initialised in the host is the bundled one: one runtime.
        let loader = (try? String(contentsOfFile: root.path + "/inventory/ld-debug.log", encoding: .utf8)) ?? ""
        let runtimes = Set(
            loader.split(separator: "\n").filter { $0.contains("calling init:") && $0.contains("libswiftCore.so") }
                .map { $0.components(separatedBy: "calling init: ").last ?? "" }
        )
        #expect(runtimes == [usr + "/sbin/../lib/ipsecsvc/swift/libswiftCore.so"], "\(runtimes)")
    }
}
