/// A Win32 error code the emulated service control manager returns, with its Windows message.
public struct WindowsError: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    public var code: UInt32
    public var message: String

    public init(code: UInt32, message: String) {
        self.code = code
        self.message = message
    }

    /// ERROR_ACCESS_DENIED.
    public static let accessDenied = WindowsError(code: 5, message: "Access is denied.")
    /// ERROR_SERVICE_REQUEST_TIMEOUT.
    public static let requestTimeout = WindowsError(
        code: 1053,
        message: "The service did not respond to the start or control request in a timely fashion."
    )
    /// ERROR_SERVICE_ALREADY_RUNNING.
    public static let alreadyRunning = WindowsError(
        code: 1056,
        message: "An instance of the service is already running."
    )
    /// ERROR_SERVICE_DISABLED.
    public static let serviceDisabled = WindowsError(
        code: 1058,
        message:
            "The service cannot be started, either because it is disabled or because it has no enabled devices associated with it."
    )
    /// ERROR_SERVICE_CANNOT_ACCEPT_CTRL.
    public static let cannotAcceptControl = WindowsError(
        code: 1061,
        message: "The service cannot accept control messages at this time."
    )
    /// ERROR_SERVICE_NOT_ACTIVE.
    public static let notActive = WindowsError(code: 1062, message: "The service has not been started.")

    public var description: String { "error \(code): \(message)" }
}

/// The service states as `sc query` shows them.
public enum ServiceState: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case stopped = "STOPPED"
    case startPending = "START_PENDING"
    case stopPending = "STOP_PENDING"
    case running = "RUNNING"

    /// The `STATE` number `sc query` prints.
    public var scCode: Int {
        switch self {
        case .stopped: 1
        case .startPending: 2
        case .stopPending: 3
        case .running: 4
        }
    }

    public var description: String { rawValue }
}

/// The service control manager's state machine (Windows' SCM: `sc start`, `sc stop`): which control is
/// allowed in which state, and where it leads. Not the swift-service-lifecycle package, which runs the
/// process's services (``ServiceRunner``).
///
/// STOPPED → START_PENDING (start; refused with 1058 when Disabled, 1056 when already started)
/// START_PENDING → RUNNING (started) or STOPPED (start failed)
/// RUNNING → STOP_PENDING (stop; 1061 while a stop is pending, 1062 when not started)
/// STOP_PENDING → STOPPED (stopped). A pure value: the agent keeps one and journals its changes.
public struct ServiceStateMachine: Hashable, Sendable {
    /// A control request or a completion.
    public enum Event: String, Hashable, Sendable {
        case start
        case started
        case startFailed
        case stop
        case stopped
    }

    public private(set) var state: ServiceState = .stopped

    public init(state: ServiceState = .stopped) { self.state = state }

    /// Applies `event`; throws the Windows error for a refused control and leaves the state unchanged.
    @discardableResult
    public mutating func handle(_ event: Event, startType: StartupType) throws(WindowsError) -> ServiceState {
        switch (state, event) {
        case (.stopped, .start):
            guard startType != .disabled else { throw .serviceDisabled }
            state = .startPending
        case (.startPending, .started): state = .running
        case (.startPending, .startFailed): state = .stopped
        case (.running, .stop): state = .stopPending
        case (.stopPending, .stopped): state = .stopped
        case (.running, .start), (.stopPending, .start), (.startPending, .start): throw .alreadyRunning
        case (.stopped, .stop): throw .notActive
        case (.startPending, .stop), (.stopPending, .stop): throw .cannotAcceptControl
        default: throw .cannotAcceptControl
        }
        return state
    }
}
