import PolicyModel

/// `kerberos=`, `psk=` and `rootca=`: the authentication methods of rules and default response rules.
extension NetshSecurityMethods {
    /// The authentication methods in command-line order; `current` for `set` commands that give none.
    static func authentication(
        _ arguments: NetshArguments,
        current: [AuthenticationMethod]?
    ) throws(NetshError)
        -> [AuthenticationMethod]
    {
        var methods: [AuthenticationMethod] = []
        var kerberosOff = false
        var rootCAs = arguments.all("rootca")[...]
        for name in arguments.order {
            switch name {
            case "kerberos":
                if try arguments.bool("kerberos") == true {
                    if !methods.contains(.kerberos) { methods.append(.kerberos) }
                } else {
                    kerberosOff = true
                }
            case "psk":
                let key = arguments.string("psk") ?? ""
                guard !key.isEmpty else { throw .invalidValue("psk", key, accepted: "a non-empty preshared key") }
                methods.append(.preSharedKey(key))
            case "rootca":
                if let text = rootCAs.popFirst() {
                    methods.append(.certificate(try NetshSecurityMethods.parseRootCA(text)))
                }
            default:
                break
            }
        }
        if methods.isEmpty {
            guard let current else {
                if kerberosOff { throw NetshError("At least one authentication method must be specified.") }
                return [.kerberos]
            }
            methods = kerberosOff ? current.filter { $0 != .kerberos } : current
            guard !methods.isEmpty else { throw NetshError("At least one authentication method must be specified.") }
        }
        return methods
    }
}
