import Netsh
import ServiceHost

#if canImport(Glibc)
import Glibc
#endif

/// `netsh ipsec dynamic` over the control socket: the running service runs the commands
/// (`netsh.dynamic.run`).
final class ControlNetshDynamicBackend: NetshDynamicBackend {
    let client: ControlClient

    init(socketPath: String) {
        client = ControlClient(socketPath: socketPath)
    }

    func run(_ commands: [NetshDynamicCommand], dryRun: Bool) throws(NetshDynamicFailure) -> [String] {
        let request = NetshDynamicRunCommand.Request(commands: commands, dryRun: dryRun)
        var attempt = 0
        while true {
            do {
                let response = try client.send(NetshDynamicRunCommand.self, request)
                if let failure = response.failure { throw failure }
                return response.outputs
            } catch let error as NetshDynamicFailure {
                throw error
            } catch let error as ControlError {
                // Too many clients at once: the request was not read, so sending it again is safe.
                if error.code == .busy && attempt < 50 {
                    attempt += 1
                    usleep(UInt32(20_000 * min(attempt, 10)))
                    continue
                }
                if error.code == .notRunning { throw .serviceNotRunning }
                if error.code == .unknownCommand {
                    throw NetshDynamicFailure(
                        index: nil,
                        message:
                            "The running IPsec Services service does not support '\(NetshDynamicRunCommand.name)'; restart it with this version."
                    )
                }
                throw NetshDynamicFailure(index: nil, message: error.message)
            } catch {
                throw NetshDynamicFailure(index: nil, message: "\(error)")
            }
        }
    }
}
