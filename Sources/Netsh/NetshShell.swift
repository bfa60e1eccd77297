/// The netsh command interpreter for the `ipsec` contexts: context navigation (`ipsec static`,
/// `..`, `pushd`/`popd`), help at every level, and dispatch: static commands to the static session,
/// dynamic commands to the running service (``NetshDynamicBackend``), which runs them as transactions.
///
/// One line at a time for interactive use and single commands (``execute(_:)``), or a whole script
/// as one transaction (``runScript(_:source:)``).
public final class NetshShell {
    public let staticSession: NetshStaticSession
    public let dynamicBackend: any NetshDynamicBackend
    /// The current context: `[]` (netsh), `["ipsec"]`, `["ipsec", "static"]` or `["ipsec", "dynamic"]`.
    public private(set) var context: [String] = []
    private var stack: [[String]] = []
    /// Set by `exit`, `quit` or `bye`.
    public private(set) var exitRequested = false

    /// The dynamic commands of the running script, with their lines: sent to the service as one batch
    /// when the script ends; `nil` outside a script.
    private var pendingDynamic: [(command: NetshDynamicCommand, line: Int)]?
    private var scriptLine = 0

    public init(staticSession: NetshStaticSession, dynamicBackend: any NetshDynamicBackend) {
        self.staticSession = staticSession
        self.dynamicBackend = dynamicBackend
    }

    /// The interactive prompt: `netsh ipsec static>`.
    public var prompt: String { (["netsh"] + context).joined(separator: " ") + ">" }

    /// Runs one command line and returns what it prints.
    public func execute(_ line: String) throws(NetshError) -> String {
        let trimmed = line.trimmingWhitespace
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return "" }
        var tokens = try NetshTokenizer.tokenize(trimmed)
        if context.isEmpty, tokens.first?.word == "netsh" { tokens.removeFirst() }
        guard let first = tokens.first?.word else {
            if tokens.isEmpty { return "" }
            throw notFound(trimmed)
        }
        switch first {
        case "pushd":
            stack.append(context)
            return try navigateOrRun(Array(tokens.dropFirst()), line: trimmed)
        case "popd":
            context = stack.popLast() ?? context
            return ""
        case "..":
            if !context.isEmpty { context.removeLast() }
            return ""
        case "exit", "quit", "bye":
            exitRequested = true
            return ""
        default:
            return try navigateOrRun(tokens, line: trimmed)
        }
    }

    /// Runs a script as one transaction: every command applies, or — when a line fails — none, and
    /// the error names the line. Comments (`#`), blank lines, `pushd`/`popd` and context lines are
    /// understood as netsh writes them.
    ///
    /// The dynamic commands go to the service together, after the last line: checked first (a dry
    /// run), then — once the static changes are saved — applied as one transaction; their output takes
    /// their place among the static commands' output.
    public func runScript(_ text: String, source: String) throws(NetshError) -> String {
        let savedContext = context
        let savedStack = stack
        let savedLocation = staticSession.location
        let savedBatch = staticSession.batchMode
        func rollback() {
            staticSession.rollback(location: savedLocation, batchMode: savedBatch)
            pendingDynamic = nil
            context = savedContext
            stack = savedStack
        }
        staticSession.beginTransaction()
        pendingDynamic = []
        var pieces: [ScriptOutput] = []
        scriptLine = 0
        // Swift reads CR LF as one character, which is not "\n": Windows scripts end their lines in it.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            scriptLine += 1
            let queued = pendingDynamic?.count ?? 0
            do {
                let output = try execute(String(line))
                pieces.append(pendingDynamic?.count ?? 0 > queued ? .dynamic(queued) : .text(output))
            } catch {
                rollback()
                throw error.at(source: source, line: scriptLine)
            }
            if exitRequested { break }
        }
        let batch = pendingDynamic ?? []
        pendingDynamic = nil
        func located(_ failure: NetshDynamicFailure) -> NetshError {
            let error = NetshError(failure.message)
            guard let index = failure.index, batch.indices.contains(index) else { return error }
            return error.at(source: source, line: batch[index].line)
        }
        var dynamicOutput: [String] = []
        do {
            if !batch.isEmpty { _ = try dynamicBackend.run(batch.map(\.command), dryRun: true) }
        } catch {
            rollback()
            throw located(error)
        }
        do {
            try staticSession.commit()
        } catch {
            rollback()
            throw error
        }
        do {
            if !batch.isEmpty { dynamicOutput = try dynamicBackend.run(batch.map(\.command), dryRun: false) }
        } catch {
            context = savedContext
            stack = savedStack
            // The dynamic SPD changed between the dry run and now (another netsh): say what was kept.
            let failure = located(error)
            throw NetshError(
                failure.message + " The static changes of the script were saved; its dynamic changes were not.",
                source: failure.source,
                line: failure.line
            )
        }
        context = savedContext
        stack = savedStack
        return pieces.map { piece in
            switch piece {
            case .text(let text): text
            case .dynamic(let index): index < dynamicOutput.count ? dynamicOutput[index] : ""
            }
        }.joined()
    }

    /// One line's output in a script: static output as text, a dynamic command's by its place in the batch.
    private enum ScriptOutput {
        case text(String)
        case dynamic(Int)
    }

    /// Saves what batch mode still holds (netsh commits a batch when it exits).
    public func finish() throws(NetshError) {
        if staticSession.batchMode { try staticSession.setBatch(false) }
        try staticSession.flush()
    }

    // MARK: - Navigation and dispatch

    private func navigateOrRun(_ tokens: [NetshToken], line: String) throws(NetshError) -> String {
        var path = context
        var rest = tokens[...]
        while let word = rest.first?.word {
            if path.first != "ipsec", Self.match(word, among: ["ipsec"]) != nil {
                path = ["ipsec"]
            } else if path.first == "ipsec", word == "ipsec" {
                path = ["ipsec"]
            } else if path.first == "ipsec",
                let sub = Self.match(
                    word,
                    among: path.count == 1 ? ["static", "dynamic", "dump"] : ["static", "dynamic"]
                ),
                sub != "dump"
            {
                path = ["ipsec", sub]
            } else {
                break
            }
            rest.removeFirst()
        }
        if rest.isEmpty {
            context = path
            return ""
        }
        return try run(path: path, Array(rest), line: line)
    }

    private func run(path: [String], _ tokens: [NetshToken], line: String) throws(NetshError) -> String {
        switch path {
        case ["ipsec", "static"]:
            return try dispatch(NetshStaticSession.commands, tokens, line: line, execute: staticSession.run)
        case ["ipsec", "dynamic"]:
            return try dispatch(NetshDynamicSession.commands, tokens, line: line, execute: runDynamic)
        case ["ipsec"]:
            let verb = tokens.first?.word
            if verb == "help" || verb == "?" { return ipsecHelp }
            // `netsh ipsec dump` is the static dump.
            if let verb, Self.match(verb, among: ["dump", "static", "dynamic"]) == "dump" {
                return try run(path: ["ipsec", "static"], tokens, line: line)
            }
            throw notFound(line)
        default:
            let verb = tokens.first?.word
            if verb == "help" || verb == "?" { return rootHelp }
            throw notFound(line)
        }
    }

    /// Finds the command `tokens` name among `commands` (any unambiguous prefix of its words) and runs
    /// it with `execute`, or prints the help the tokens ask for.
    private func dispatch<Session>(
        _ commands: [NetshCommand<Session>],
        _ tokens: [NetshToken],
        line: String,
        execute: (NetshCommand<Session>, [NetshToken]) throws(NetshError) -> String
    ) throws(NetshError) -> String {
        let specs = commands.map(\.spec)
        guard let verb = tokens.first?.word else { throw notFound(line) }
        if verb == "help" || verb == "?" { return NetshHelp.context(specs) }
        var verbs: [String] = []
        for spec in specs where !verbs.contains(spec.verb) { verbs.append(spec.verb) }
        guard let fullVerb = Self.match(verb, among: verbs) else { throw notFound(line) }
        let group = commands.filter { $0.spec.verb == fullVerb }
        let second = tokens.dropFirst().first
        // A one-word command (dump, exportpolicy, importpolicy).
        if let command = group.first(where: { $0.spec.object == nil }) {
            if second?.word == "?" || second?.word == "help" { return NetshHelp.usage(command.spec) }
            return try execute(command, Array(tokens.dropFirst()))
        }
        guard let objectWord = second?.word else { return NetshHelp.group(fullVerb, specs) }
        if objectWord == "?" || objectWord == "help" { return NetshHelp.group(fullVerb, specs) }
        guard let object = Self.match(objectWord, among: group.compactMap(\.spec.object)),
            let command = group.first(where: { $0.spec.object == object })
        else { throw notFound(line) }
        let arguments = Array(tokens.dropFirst(2))
        if arguments.last?.word == "?" || arguments.first?.word == "help" { return NetshHelp.usage(command.spec) }
        return try execute(command, arguments)
    }

    /// A dynamic command: its arguments are checked here, then it runs in the service — at once, or with
    /// the rest of the script's dynamic commands when a script is running.
    private func runDynamic(
        _ command: NetshCommand<NetshDynamicSession>,
        _ tokens: [NetshToken]
    ) throws(NetshError) -> String {
        _ = try command.spec.bind(tokens)
        let line = NetshDynamicCommand(name: command.spec.name, arguments: tokens)
        if pendingDynamic != nil {
            pendingDynamic?.append((line, scriptLine))
            return ""
        }
        do {
            return try dynamicBackend.run([line], dryRun: false).first ?? ""
        } catch {
            throw NetshError(error.message)
        }
    }

    /// netsh accepts any unambiguous prefix of a command or context word (`sh` for `show`).
    static func match(_ word: String, among words: [String]) -> String? {
        if words.contains(word) { return word }
        let candidates = words.filter { $0.hasPrefix(word) }
        return candidates.count == 1 ? candidates[0] : nil
    }

    private func notFound(_ line: String) -> NetshError {
        NetshError("The following command was not found: \(line).")
    }

    private var rootHelp: String {
        NetshHelp.commandList([("ipsec", "Changes to the `netsh ipsec' context.")], inherited: NetshHelp.inherited)
    }

    private var ipsecHelp: String {
        NetshHelp.commandList(
            [
                ("dump", "Displays a configuration script."),
                ("dynamic", "Changes to the `netsh ipsec dynamic' context."),
                ("static", "Changes to the `netsh ipsec static' context."),
            ],
            inherited: NetshHelp.inherited
        )
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and line ends.
    var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}
