import Foundation
import IPsecTestKit
import Synchronization
import Testing

/// A throw-away machine with a real systemd 252 as PID 1: `systemd-nspawn --boot` on a root directory
/// the test builds, as `../shared/labs/systemd-container` found works on this kind of host (PID 1 not
/// systemd, hybrid cgroups). The container gets the host's `/usr` under a writable overlay (so dpkg can
/// install into it), private copies of `/etc` and of the dpkg database, a fresh `/var`, and a private
/// network namespace (`--private-network`), so iptables inside never touches the host. It is driven
/// with `nsenter` and rebooted by powering it off and booting the same directories again.
///
/// Used by one test at a time: not `Sendable`.
final class SystemdContainer {
    /// Machine name, cgroup and directory suffix: unique per test process and container.
    let name: String
    /// `<directory>/root` is the container's root; the `/usr` overlay's upper layer is beside it.
    let directory: String
    /// Bound read-only at `/mnt/debs` inside.
    let packages: String
    private var nspawn: ServiceProcess?
    private var leader: pid_t = 0
    private static let counter = Atomic<Int>(0)

    var root: String { directory + "/root" }
    private var cgroup: String { "ipsecsvc-ct-" + name }
    private var log: String { directory + "/nspawn.log" }

    /// Root, systemd-nspawn and a cgroup layout it can boot a container on.
    static var requirement: MachineRequirement {
        .all([
            .root, .command("systemd-nspawn", package: "systemd-container"),
            .command("nsenter", package: "util-linux"), .command("dpkg-deb", package: "dpkg"),
            .command("apt-get", package: "apt"), .command("iptables-save", package: "iptables"),
            .command("python3", package: "python3"),
            .check(
                FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified")
                    || FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers"),
                "a cgroup2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup (systemd-nspawn cannot boot a container here)"
            ),
        ])
    }

    /// Builds the root directory; `packages` is a directory of `.deb` files for `/mnt/debs`.
    init(packages: String) async throws {
        let index = Self.counter.add(1, ordering: .relaxed).newValue
        name = "ipsvc-\(getpid())-\(index)"
        directory = "/tmp/ipsecsvc-ct-\(getpid())-\(index)"
        self.packages = packages
        await Self.removeStale()
        let built = await sh(Self.buildScript(root: directory + "/root", name: name))
        guard built.status == 0 else {
            await sh("rm -rf --one-file-system \(directory)")
            throw TestFailure("container root: \(built.output)")
        }
    }

    /// The root directory: empty `/usr` (the overlay), a copy of `/etc` without the host's enabled units and namespaces
    /// and without anything of ipsecsvc, a copy of the dpkg database, apt's directories, a fresh `/var`.
    private static func buildScript(root: String, name: String) -> String {
        """
        set -e
        # What this script creates must not depend on the test process's umask.
        umask 022
        R=\(root)
        mkdir -p "$R"/{usr,etc,var/log/journal,var/tmp,tmp,run,proc,sys,dev,root,home,srv,opt,mnt/debs} \
            "$R"/var/lib/apt/lists/partial "$R"/var/cache/apt/archives/partial "$R"/var/log/apt \
            "$R"/../usr-upper
        chmod 1777 "$R/tmp" "$R/var/tmp"
        for l in bin sbin lib lib64; do ln -s "usr/$l" "$R/$l"; done
        # Without /etc/netns: other suites of this process add and delete namespaces there while we copy.
        find /etc -mindepth 1 -maxdepth 1 ! -name netns -exec cp -a -t "$R/etc/" {} +
        cp -a /var/lib/dpkg "$R/var/lib/dpkg"
        # Host-enabled units (databases, strongSwan, Samba, timers) must not start in the container, and
        # nothing of an ipsecsvc installed on the host may be there before the package is.
        rm -rf "$R"/etc/systemd/system/*.wants "$R"/etc/ipsecsvc "$R"/etc/systemd/system/ipsecsvc*
        sed -i '/^ipsecadm:/d' "$R/etc/group" "$R/etc/gshadow"
        # nspawn reads os-release before it mounts /usr; /etc/os-release is a link into /usr.
        rm -f "$R/etc/os-release"; cp -L /etc/os-release "$R/etc/os-release"
        systemd-id128 new > "$R/etc/machine-id"
        : > "$R/etc/fstab"
        echo "\(name)" > "$R/etc/hostname"
        ln -sf /lib/systemd/system/multi-user.target "$R/etc/systemd/system/default.target"
        for u in getty.target console-getty.service systemd-logind.service systemd-timesyncd.service \\
            apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer; do
            ln -sf /dev/null "$R/etc/systemd/system/$u"
        done
        """
    }

    /// Boots the container and waits until systemd reports the system running.
    func boot() async throws {
        let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified")
        // nspawn --keep-unit uses its caller's cgroup as the container's cgroup root: the shell moves
        // itself into a cgroup of its own (both hierarchies on a hybrid host), then becomes nspawn.
        let cgroups =
            unified
            ? ["/sys/fs/cgroup/unified/\(cgroup)", "/sys/fs/cgroup/systemd/\(cgroup)"] : ["/sys/fs/cgroup/\(cgroup)"]
        let script = """
            set -e
            for cg in \(cgroups.joined(separator: " ")); do mkdir -p $cg; echo $$ > $cg/cgroup.procs; done
            # SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: nspawn would otherwise pick legacy cgroups (it probes the
            # image before /usr is mounted), where stop jobs hang. --system-call-filter=bpf: without it
            # IPAddressDeny= and DevicePolicy= are silently not enforced.
            SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec systemd-nspawn --quiet --register=no --keep-unit \\
                --machine=\(name) --directory=\(root) --overlay=/usr:\(directory)/usr-upper:/usr \\
                --bind-ro=\(packages):/mnt/debs --private-network --link-journal=no --resolv-conf=off \\
                --timezone=off --console=read-only --system-call-filter=bpf \\
                --boot -- systemd.firstboot=off systemd.log_color=0
            """
        let process = try ServiceProcess(["/bin/bash", "-c", script], output: log)
        nspawn = process
        let found = await eventually(timeout: .seconds(30)) {
            leader = Self.containerInit(of: process.pid)
            return leader != 0
        }
        guard found else { throw TestFailure("the container did not start:\n\(process.output)") }
        var state = ""
        let running = await eventually(timeout: .seconds(90), interval: .milliseconds(100)) {
            state = await run("systemctl is-system-running --wait").output.trimmingCharacters(
                in: .whitespacesAndNewlines
            )
            return state == "running" || state == "degraded"
        }
        guard running, state == "running" else {
            let failed = await run("systemctl --failed --no-legend; journalctl -b -p warning --no-pager | tail -20")
            throw TestFailure("the container's systemd is '\(state)':\n\(failed.output)\n\(process.output)")
        }
    }

    /// nspawn's child in another PID namespace: the container's PID 1 (0 while there is none).
    private static func containerInit(of nspawn: pid_t) -> pid_t {
        let ownNamespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
        let children = (try? String(contentsOfFile: "/proc/\(nspawn)/task/\(nspawn)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ").compactMap({ pid_t($0) }) {
            let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child)/ns/pid")
            if let namespace, namespace != ownNamespace { return child }
        }
        return 0
    }

    /// Runs `command` with bash inside the container (all its namespaces), with a clean environment and
    /// a time limit.
    @discardableResult
    func run(_ command: String, timeout: Int = 180) async -> Outcome {
        // Files made inside must not depend on the umask the test process happens to have.
        let quoted = "'umask 022; " + command.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return await sh(
            """
            nsenter --target \(leader) --all env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0 LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
                timeout \(timeout) bash -c \(quoted)
            """
        )
    }

    /// The output of `command` inside, without surrounding white space.
    func value(_ command: String) async -> String {
        await run(command).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A unit property (`systemctl show -P`).
    func property(_ unit: String, _ property: String) async -> String {
        await value("systemctl show -P \(property) \(unit)")
    }

    /// Powers the container off (nspawn turns SIGTERM into a clean shutdown); kills it when that takes
    /// longer than 60 s.
    func powerOff() async {
        guard let process = nspawn else { return }
        process.signal(SIGTERM)
        if await process.exited(timeout: 60) == nil {
            if leader != 0 { kill(leader, SIGKILL) }
            await process.terminateAndWait()
        }
        nspawn = nil
        leader = 0
    }

    /// Powers off and boots the same directories again.
    func reboot() async throws {
        await powerOff()
        try await boot()
    }

    /// Powers off and removes everything the container left on the host: its cgroups, nspawn's
    /// propagation directory, the root directory and the overlay.
    func remove() async {
        await powerOff()
        await Self.removeLeftovers(name: name, directory: directory)
    }

    private static func removeLeftovers(name: String, directory: String) async {
        await sh(
            """
            for cg in /sys/fs/cgroup/unified/ipsecsvc-ct-\(name) /sys/fs/cgroup/systemd/ipsecsvc-ct-\(name) /sys/fs/cgroup/ipsecsvc-ct-\(name); do
                [ -d $cg ] && find $cg -depth -type d -exec rmdir {} \\; 2>/dev/null
            done
            rmdir /run/systemd/nspawn/propagate/\(name) 2>/dev/null
            mountpoint -q \(directory)/root/usr || rm -rf --one-file-system \(directory)
            true
            """
        )
    }

    /// Removes what containers of test processes that died left behind (their processes first).
    private static func removeStale() async {
        for path in (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? [] {
            guard path.hasPrefix("ipsecsvc-ct-") else { continue }
            let parts = path.dropFirst("ipsecsvc-ct-".count).split(separator: "-")
            guard parts.count == 2, let owner = pid_t(parts[0]), owner != getpid(), kill(owner, 0) != 0 else {
                continue
            }
            let name = "ipsvc-\(parts[0])-\(parts[1])"
            await sh(
                """
                for cg in /sys/fs/cgroup/systemd/ipsecsvc-ct-\(name) /sys/fs/cgroup/ipsecsvc-ct-\(name); do
                    [ -d $cg ] && for p in $(find $cg -name cgroup.procs -exec cat {} +); do kill -9 $p 2>/dev/null; done
                done
                sleep 0.5
                """
            )
            await removeLeftovers(name: name, directory: "/tmp/" + path)
        }
    }
}

/// Runs `body` with a booted container that has the packages at `/mnt/debs`, and removes the container
/// afterwards whatever happens.
func withSystemdContainer(_ body: (SystemdContainer) async throws -> Void) async throws {
    let container = try await SystemdContainer(packages: try await TestPackages.directory())
    do {
        try await container.boot()
        // The host image's policy-rc.d forbids starting services (Docker style); a machine has none.
        await container.run("rm -f /usr/sbin/policy-rc.d")
        try await body(container)
    } catch {
        await container.remove()
        throw error
    }
    await container.remove()
}

/// The Debian packages the container tests install.
enum TestPackages {
    /// `$IPSECSVC_TEST_DEB_DIR` when set (CI: the release packages `scripts/build-deb.sh` built), else a
    /// quick package of the debug build these tests run beside, built once per test process.
    static func directory() async throws -> String {
        if let directory = ProcessInfo.processInfo.environment["IPSECSVC_TEST_DEB_DIR"], !directory.isEmpty {
            return URL(fileURLWithPath: directory).standardizedFileURL.path
        }
        return try await QuickBuild.shared.directory()
    }

    /// The repository (this file is `Tests/IntegrationTests/SystemdContainer.swift`).
    static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// The `.deb` file of `package` in `directory`.
    static func file(_ package: String, in directory: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        guard let name = names.first(where: { $0.hasPrefix(package + "_") && $0.hasSuffix(".deb") }) else {
            throw TestFailure("no \(package)_*.deb in \(directory)")
        }
        return directory + "/" + name
    }

    private actor QuickBuild {
        static let shared = QuickBuild()
        private var build: Task<String, any Error>?

        func directory() async throws -> String {
            if build == nil {
                build = Task {
                    // Beside the build it packages: <scratch>/<triple>/debug/ipsecsvc → <scratch>/deb-test.
                    let binary = URL(fileURLWithPath: ServiceHarness.executable).resolvingSymlinksInPath()
                    let output = binary.deletingLastPathComponent().deletingLastPathComponent()
                        .deletingLastPathComponent().appendingPathComponent("deb-test").path
                    let result = await sh(
                        "\(TestPackages.repository)/scripts/build-deb.sh --binary \(binary.path) --no-lintian --fast --output \(output) 2>&1"
                    )
                    guard result.status == 0 else {
                        throw TestFailure("scripts/build-deb.sh failed:\n\(result.output)")
                    }
                    return output
                }
            }
            return try await build!.value
        }
    }
}
