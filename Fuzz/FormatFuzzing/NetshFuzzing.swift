import Netsh
import PolicyModel

/// netsh scripts read as policy files (`NetshScriptReader`: the parser and the static engine on an
/// in-memory store). Oracle: the store a script builds dumps (`NetshDump`) to a script that builds a
/// store whose dump is the same script again.
enum NetshFuzzing {
    static func run(_ bytes: [UInt8]) -> Bool {
        guard let store = try? NetshScriptReader.read(bytes, file: "<fuzz>") else { return false }
        let script = NetshDump.script(for: store, location: .local)
        guard let rebuilt = try? NetshScriptReader.read(Array(script.utf8), file: "<dump>") else {
            preconditionFailure("netsh: the dump of an accepted script does not read back:\n\(script)")
        }
        if NetshDump.script(for: rebuilt, location: .local) != script {
            preconditionFailure("netsh: the dump changed when read back:\n\(script)")
        }
        return true
    }
}
