import DecisionCore
import PolicyModel
import Synchronization

/// What the queue readers decide with: the decision core's context plus what only the kernel path
/// needs (the fast-path epoch and marks, the diagnostics level, the per-filter counters). Swapped as
/// a whole by the driver.
final class ReaderContext: Sendable {
    let decision: DecisionContext
    /// Fast-path epoch (1…``DriverMarks/epochModulus``); 0 turns the fast path off.
    let epoch: UInt32
    let marks: DriverMarks
    let diagnosticsLevel: Int
    /// Per-filter counters of this context's packets (folded into the totals when it is replaced).
    let counters: TableCounters

    init(decision: DecisionContext, epoch: UInt32, marks: DriverMarks, diagnosticsLevel: Int) {
        self.decision = decision
        self.epoch = epoch
        self.marks = marks
        self.diagnosticsLevel = diagnosticsLevel
        self.counters = TableCounters(count: decision.table.filters.count)
    }

    var table: FilterTable { decision.table }
    var mode: OperationalMode? { decision.settings.operationalMode }
}

/// The context the readers use, swapped as a whole by the driver.
final class ContextCell: Sendable {
    private let value: Mutex<ReaderContext>

    init(_ context: ReaderContext) { value = Mutex(context) }

    var current: ReaderContext { value.withLock { $0 } }

    /// Installs `context` and returns the one it replaces.
    func swap(_ context: ReaderContext) -> ReaderContext {
        value.withLock { current in
            let old = current
            current = context
            return old
        }
    }
}
