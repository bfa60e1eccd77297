/// One command of a netsh context as its help describes it: words, parameters in documented order
/// (the order positional values fill), which parameters are required, and the help text.
package struct NetshCommandSpec: Sendable {
    /// `add`, `set`, `delete`, `show`, `dump`, `exportpolicy`, ...
    package var verb: String
    /// `policy`, `filterlist`, ... or `nil` for one-word commands.
    package var object: String?
    package var summary: String
    package var parameters: [NetshParameter]
    /// Each group needs at least one of its parameters (`[["name", "guid"]]`).
    package var required: [[String]]
    package var remarks: [String]
    package var examples: [String]

    package init(
        _ verb: String,
        _ object: String?,
        summary: String,
        parameters: [NetshParameter] = [],
        required: [[String]] = [],
        remarks: [String] = [],
        examples: [String] = []
    ) {
        self.verb = verb
        self.object = object
        self.summary = summary
        self.parameters = parameters
        self.required = required
        self.remarks = remarks
        self.examples = examples
    }

    /// `add policy`.
    package var name: String { object.map { "\(verb) \($0)" } ?? verb }

    /// Binds the tokens after the command words and checks the required parameters.
    package func bind(_ tokens: [NetshToken]) throws(NetshError) -> NetshArguments {
        let arguments = try NetshArguments.bind(
            tokens,
            to: parameters,
            alternatives: required.filter { $0.count > 1 },
            command: name
        )
        try arguments.require(required)
        return arguments
    }
}

/// A command of a netsh context: its syntax and help (``NetshCommandSpec``) and its handler.
///
/// A context's table is a list of these, so every command the shell can find has a handler: a
/// command cannot be listed without one. The handler is the session's method for the command,
/// applied to the session that runs it (`run: showPolicies`, or `run: edit(addPolicy)` for a store
/// edit).
struct NetshCommand<Session: AnyObject>: Sendable {
    typealias Handler = @Sendable (Session) -> (NetshArguments) throws(NetshError) -> String

    let spec: NetshCommandSpec
    /// What the command reads from the running service (dynamic commands that show live data).
    let reads: NetshLiveData
    let handler: Handler

    init(
        _ verb: String,
        _ object: String?,
        summary: String,
        parameters: [NetshParameter] = [],
        required: [[String]] = [],
        remarks: [String] = [],
        examples: [String] = [],
        reads: NetshLiveData = [],
        run handler: @escaping Handler
    ) {
        spec = NetshCommandSpec(
            verb,
            object,
            summary: summary,
            parameters: parameters,
            required: required,
            remarks: remarks,
            examples: examples
        )
        self.reads = reads
        self.handler = handler
    }

    /// Binds `tokens` to the command's parameters and runs the handler on `session`.
    func run(_ session: Session, _ tokens: [NetshToken]) throws(NetshError) -> String {
        try handler(session)(spec.bind(tokens))
    }
}

// MARK: - Parameters used by several commands

extension NetshParameter {
    static let yesNo = "(yes | no)"
    static let string = "<string>"
    static let integer = "<integer>"

    static func name(_ what: String) -> NetshParameter {
        NetshParameter("name", string, "Name of the \(what).")
    }
    static func guid(_ what: String) -> NetshParameter {
        NetshParameter("guid", "<guid>", "GUID of the \(what).")
    }
    static func newName(_ what: String) -> NetshParameter {
        NetshParameter("newname", string, "New name of the \(what).")
    }
    static func description(_ what: String) -> NetshParameter {
        NetshParameter("description", string, "Brief information about the \(what).")
    }
    static func all(_ what: String) -> NetshParameter {
        NetshParameter("all", "", "All \(what).", flag: true)
    }
    static let level = NetshParameter("level", "(verbose | normal)", "Verbose or normal output (default normal).")
    static let format = NetshParameter(
        "format",
        "(list | table)",
        "Output in a list (default) or in a table."
    )
    static let wide = NetshParameter(
        "wide",
        yesNo,
        "'no' truncates names and descriptions to fit 80 columns (default yes)."
    )
    static let resolvedns = NetshParameter(
        "resolvedns",
        yesNo,
        "'yes' shows DNS names of addresses where known (default no)."
    )
    static let mmsecmethods = NetshParameter(
        "mmsecmethods",
        "(sec#1 sec#2 ... sec#n)",
        "One or more security methods separated by spaces, in the form ConfAlg-HashAlg-GroupNum: ConfAlg DES or 3DES, HashAlg MD5 or SHA1, GroupNum 1 (Low), 2 (Medium) or 3 (DH2048)."
    )
    static let qmsecmethods = NetshParameter(
        "qmsecmethods",
        "(neg#1 neg#2 ... neg#n)",
        "IPsec offers: ESP[ConfAlg,AuthAlg]:k/s, AH[HashAlg]:k/s or AH[HashAlg]+ESP[ConfAlg,AuthAlg]:k/s; ConfAlg DES, 3DES or None; AuthAlg MD5, SHA1 or None; HashAlg MD5 or SHA1; k lifetime in kilobytes, s lifetime in seconds."
    )
    static let kerberos = NetshParameter("kerberos", yesNo, "Provides Kerberos authentication if 'yes' is specified.")
    static let psk = NetshParameter(
        "psk",
        "<preshared key>",
        "Provides authentication using a specified preshared key."
    )
    static let rootca = NetshParameter(
        "rootca",
        "\"<certificate> certmap:(yes | no) excludecaname:(yes | no)\"",
        "Provides authentication using a specified root certificate; certmap:yes maps the certificate to an account, excludecaname:yes leaves the CA name out of the request.",
        repeatable: true
    )
    static let conntype = NetshParameter("conntype", "(lan | dialup | all)", "Connection type (default all).")
    static let mirrored = NetshParameter(
        "mirrored",
        yesNo,
        "'yes' also matches the reverse direction (default yes)."
    )
    static let protocolParameter = NetshParameter(
        "protocol",
        "(ANY | ICMP | TCP | UDP | RAW | <integer>)",
        "ANY (default), ICMP, TCP, UDP, RAW or a protocol number; ports need TCP or UDP."
    )
    static func address(_ tag: String, _ side: String) -> NetshParameter {
        NetshParameter(
            tag,
            "(ipv4 | dns | server)",
            "\(side) address: me, any, an IPv4 address, a DNS name, or WINS, DNS, DHCP, GATEWAY."
        )
    }
    static func mask(_ tag: String, _ side: String) -> NetshParameter {
        NetshParameter(
            tag,
            "(mask | prefix)",
            "\(side) address mask or a prefix of 1 through 32 (default 255.255.255.255)."
        )
    }
    static func port(_ tag: String, _ side: String) -> NetshParameter {
        NetshParameter(tag, "<port>", "\(side) port (0 means any port, the default).")
    }

    /// The authentication remarks netsh prints under `add rule`.
    static let authenticationRemarks = [
        "Certificate, mapping and CA name settings are all within quotes; embedded quotes are replaced with \\'.",
        "Multiple certificates can be given by using the rootca parameter more than once.",
        "The preference of each authentication method is its order on the command line.",
        "If no authentication method is given, Kerberos is used.",
    ]
}
