import ArgumentParser
import Foundation
import IPsecSystem
import Netsh
import PolicyFormats
import PolicyModel
import ServiceHost

/// `ipsecsvc netsh ...` and the program installed as `netsh`: Windows' `netsh ipsec` command set.
///
/// ```
/// netsh ipsec static add policy name=Web          # one command
/// netsh -f script.netsh                           # a script, as one transaction
/// netsh                                           # interactive: ipsec static, .., exit
/// ```
/// `--config`, `--state-dir` and `--socket` may come first, as for every ipsecsvc command.
enum NetshCommandLine {
    /// The netsh arguments when this process runs as netsh (`argv[0]` named `netsh`, or the
    /// `netsh` subcommand); `nil` otherwise.
    static func arguments(_ argv: [String]) -> [String]? {
        let program = argv.first.map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? ""
        if program == "netsh" || program == "netsh.exe" { return Array(argv.dropFirst()) }
        if argv.count > 1, argv[1] == "netsh" { return Array(argv.dropFirst(2)) }
        return nil
    }

    /// Runs netsh and ends the process with its exit code.
    static func runAndExit(_ arguments: [String]) -> Never {
        exit(run(arguments))
    }

    /// Runs netsh and returns the exit code: 0 when every command succeeded, 1 otherwise.
    static func run(_ arguments: [String]) -> Int32 {
        var rest = arguments[...]
        var configPath: String?
        var stateDirectory: String?
        var socketPath: String?
        var scriptPath: String?
        var context: String?
        while let first = rest.first, first.hasPrefix("-") {
            rest.removeFirst()
            let value = rest.popFirst()
            switch first {
            case "--config": configPath = value
            case "--state-dir": stateDirectory = value
            case "--socket": socketPath = value
            case "-f": scriptPath = value
            case "-c": context = value
            case "-r", "-u", "-p":
                standardError(
                    "ipsecsvc netsh: remote computers (\(first)) are not supported; run netsh on the computer itself."
                )
                return 1
            case "-h", "--help", "-?", "/?":
                emit(usage + "\n")
                return 0
            default:
                standardError("ipsecsvc netsh: the option '\(first)' is not valid.\n\(usage)")
                return 1
            }
            if value == nil {
                standardError("ipsecsvc netsh: the option '\(first)' needs a value.")
                return 1
            }
        }
        let configuration: ServiceConfiguration
        do {
            configuration = try ServiceConfiguration.load(
                path: configPath,
                stateDirectory: stateDirectory,
                socketPath: socketPath
            )
        } catch {
            standardError("ipsecsvc netsh: \(error)")
            return 1
        }
        let shell = makeShell(configuration)
        do {
            if let context { _ = try shell.execute(context) }
            if let scriptPath { return runScript(scriptPath, shell) }
            if rest.isEmpty { return interactive(shell) }
            let output = try shell.execute(commandLine(Array(rest)))
            try shell.finish()
            emit(output)
            return 0
        } catch {
            standardError(error.description)
            return 1
        }
    }

    static func makeShell(_ configuration: ServiceConfiguration) -> NetshShell {
        let environment = NetshEnvironment(now: { SystemClock.secondsSince1970() }, resolver: SystemNameResolver())
        return NetshShell(
            staticSession: NetshStaticSession(
                backend: StateDirectoryNetshStoreBackend(
                    stateDirectory: configuration.stateDirectory,
                    socketPath: configuration.socketPath,
                    examples: configuration.examples
                ),
                environment: environment
            ),
            dynamicBackend: ControlNetshDynamicBackend(socketPath: configuration.socketPath)
        )
    }

    /// Puts the words back into one line, quoting values the shell unquoted (`name=My Policy`).
    static func commandLine(_ words: [String]) -> String {
        words.map { word in
            if let equals = word.firstIndex(of: "="), word[..<equals].allSatisfy({ $0.isLetter }) {
                let value = String(word[word.index(after: equals)...])
                return String(word[..<equals]) + "=" + quoteIfNeeded(value)
            }
            return quoteIfNeeded(word)
        }
        .joined(separator: " ")
    }

    private static func quoteIfNeeded(_ value: String) -> String {
        if value.isEmpty || value.contains(where: { $0 == " " || $0 == "\t" || $0 == "=" }) {
            return "\"" + value + "\""
        }
        return value
    }

    private static func runScript(_ path: String, _ shell: NetshShell) -> Int32 {
        let text: String
        do {
            let bytes =
                path == "-"
                ? try FileSystem.read(descriptor: 0, name: "<stdin>", limit: PolicyFile.maximumSize)
                : try FileSystem.read(path, limit: PolicyFile.maximumSize)
            text = String(decoding: bytes, as: UTF8.self)
        } catch {
            standardError("ipsecsvc netsh: the file \(path) cannot be read: \(error)")
            return 1
        }
        do {
            let output = try shell.runScript(text, source: path == "-" ? "<stdin>" : path)
            try shell.finish()
            emit(output)
            return 0
        } catch {
            standardError(error.description)
            standardError("No change was made: the script runs as one transaction.")
            return 1
        }
    }

    /// The interactive prompt: one command per line until `exit` or end of input.
    private static func interactive(_ shell: NetshShell) -> Int32 {
        var failed = false
        let isTerminal = isatty(0) != 0
        while !shell.exitRequested {
            if isTerminal {
                emit(shell.prompt)
            }
            guard let line = readLine() else { break }
            do {
                emit(try shell.execute(line))
            } catch {
                standardError(error.description)
                failed = true
            }
        }
        do {
            try shell.finish()
        } catch {
            standardError(error.description)
            return 1
        }
        return failed && !isTerminal ? 1 : 0
    }

    /// Writes to standard output unbuffered, so that output and prompts keep their order; names and
    /// texts from the stores are shown with their control characters escaped.
    static func emit(_ text: String) { standardOutput(text, terminator: "") }

    static let usage = """
        Usage: netsh [--state-dir D] [--socket S] [-c context] [-f script | command]
               ipsecsvc netsh ipsec static|dynamic <command> [tag=value ...]

          -f script   runs the script as one transaction (all commands apply, or none)
          -c context  starts in a context, e.g. -c "ipsec static"
          no command  starts the interactive prompt (netsh>); 'exit' leaves it

        Type 'netsh ipsec static ?' or 'netsh ipsec dynamic ?' for the commands.
        """
}

/// `ipsecsvc netsh`, listed in `ipsecsvc --help`. `main` hands `netsh` to ``NetshCommandLine`` before
/// ArgumentParser sees it (netsh's `tag=value` syntax is not ArgumentParser's), so `run` is only
/// reached through `ipsecsvc help netsh`.
struct NetshSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netsh",
        abstract: "Windows netsh ipsec static|dynamic commands, scripts (-f) and the interactive prompt.",
        discussion: NetshCommandLine.usage
    )

    func run() throws {
        NetshCommandLine.emit(NetshCommandLine.usage + "\n")
    }
}
