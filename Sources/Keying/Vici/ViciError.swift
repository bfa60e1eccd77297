/// Why a vici call did not produce a response.
public enum ViciError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Nothing answers on the socket (charon not running, wrong path, permissions).
    case unavailable(String)
    /// charon closed the connection (it stopped or restarted) before the call completed.
    case disconnected
    /// No response within the call's timeout; the connection was closed (vici has no sequence
    /// numbers, so a late answer could be taken for the next call's).
    case timeout(command: String, milliseconds: Int)
    /// charon has no such command (CMD_UNKNOWN).
    case unknownCommand(String)
    /// charon has no such event (EVENT_UNKNOWN).
    case unknownEvent(String)
    /// charon answered something that is not vici, or not what the exchange expects.
    case protocolViolation(String)
    /// A system call failed (the system layer's sentence).
    case system(String)
    /// The command ran and answered `success = no`.
    case commandFailed(command: String, message: String)

    public var description: String {
        switch self {
        case .unavailable(let reason): "charon's vici socket is not available: \(reason)"
        case .disconnected: "charon closed the vici connection"
        case .timeout(let command, let milliseconds): "vici '\(command)' did not answer within \(milliseconds) ms"
        case .unknownCommand(let command): "charon does not know the vici command '\(command)'"
        case .unknownEvent(let event): "charon does not know the vici event '\(event)'"
        case .protocolViolation(let what): "vici protocol violation: \(what)"
        case .system(let reason): reason
        case .commandFailed(let command, let message): "vici '\(command)' failed: \(message)"
        }
    }

    /// Whether the daemon is unreachable (as opposed to a refused command): the caller should wait
    /// for charon to come back.
    public var isConnectionLoss: Bool {
        switch self {
        case .unavailable, .disconnected, .timeout, .protocolViolation, .system: true
        case .unknownCommand, .unknownEvent, .commandFailed: false
        }
    }
}
