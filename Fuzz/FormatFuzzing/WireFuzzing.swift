import PolicyModel
import ServiceHost

/// The driver's table reader, `PolicyWire.decode`: the bytes an agent hands the privileged driver, and
/// the table the driver reloads from its runtime directory. Oracles: an accepted table encodes to
/// bytes that decode to the same policy, and encoding that again gives the same bytes (the encoding is
/// canonical); whatever version was read (1–4), the encoding is version 4 and holds each text once.
enum WireFuzzing {
    static func run(_ bytes: [UInt8]) -> Bool {
        guard let policy = try? PolicyWire.decode(bytes) else { return false }
        guard let encoded = try? PolicyWire.encode(policy) else {
            check(false, "an accepted table does not encode")
            return true
        }
        check(encoded.count > 5 && encoded[4] == 4 && encoded[5] == 0, "an accepted table does not encode as version 4")
        let again = try? PolicyWire.decode(encoded)
        check(again == policy, "an accepted table does not round-trip")
        check(again.flatMap { try? PolicyWire.encode($0) } == encoded, "the encoding is not canonical")
        return true
    }

    private static func check(_ condition: Bool, _ what: String) {
        if !condition { preconditionFailure("policy table: \(what)") }
    }
}
