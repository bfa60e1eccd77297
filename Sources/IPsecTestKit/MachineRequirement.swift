import Foundation
public import Testing

/// What a test needs from the machine it runs on (root, a program from a Debian package, …), and how to
/// get what is missing.
///
/// A test whose requirement is not met is skipped with a comment that names each missing piece and the
/// command that provides it: `needs nc (apt-get install -y netcat-openbsd)`. It is never a way to hide a
/// test: the README's first command (`scripts/run-local.sh`, which `.ci/run` uses too) installs
/// everything, and `.ci/run` fails when any test is skipped.
public struct MachineRequirement: Sendable {
    /// One entry per missing piece: what it is and how to get it.
    public let missing: [String]

    public var isMet: Bool { missing.isEmpty }

    public init(missing: [String]) { self.missing = missing }

    /// The skip comment: every missing piece, then where everything comes from.
    public var explanation: String {
        "needs " + missing.joined(separator: "; ")
            + ". `scripts/run-local.sh install-deps` installs every package the tests use."
    }

    /// The tests run as root (network namespaces, iptables, containers).
    public static var root: MachineRequirement {
        check(geteuid() == 0, "root (run `swift test` as root)")
    }

    /// An executable named `name` in the usual system directories, from Debian package `package`.
    public static func command(_ name: String, package: String) -> MachineRequirement {
        check(executablePath(name) != nil, "\(name) (apt-get install -y \(package))")
    }

    /// Any other condition, with the text that says what is missing and how to fix it.
    public static func check(_ isMet: Bool, _ whatIsMissing: String) -> MachineRequirement {
        MachineRequirement(missing: isMet ? [] : [whatIsMissing])
    }

    /// All of `requirements`.
    public static func all(_ requirements: [MachineRequirement]) -> MachineRequirement {
        MachineRequirement(missing: requirements.flatMap(\.missing))
    }

    /// The path of executable `name` in the system directories or `PATH`, if it is installed.
    public static func executablePath(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let directories = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] + path
        return directories.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test or suite only where every requirement is met; otherwise skips it with a comment that
    /// says what is missing and the command that provides it.
    public static func requires(_ requirements: MachineRequirement...) -> Self {
        let combined = MachineRequirement.all(requirements)
        return .enabled(if: combined.isMet, Comment(rawValue: combined.explanation))
    }
}
