import PolicyFormats
import Providers
import Synchronization

/// A directory in memory that tests change between reads, behind the ``DirectoryReader`` seam: it
/// counts each kind of call, can fail every call, and can make reads slow (to overlap them).
final class ScriptedDirectoryReader: DirectoryReader, Sendable {
    struct State {
        var entries: [DirectoryEntry] = []
        var computerDN = SnapshotFixtures.Computer.web.rawValue
        var failure: DirectoryReadError?
        var delay: Duration = .zero
        /// Reads wait, ignoring cancellation as a blocking libldap call does, until ``release()``.
        var held = false
        var holding: [CheckedContinuation<Void, Never>] = []
        var reads = 0
        var objectReads = 0
        var stampReads = 0
    }

    let state = Mutex(State())
    let server = "ldap://dc.test"

    init(_ entries: [DirectoryEntry]) { state.withLock { $0.entries = entries } }

    var sourceDescription: String { "scripted" }
    var lastServer: String? { server }

    func update(_ body: (inout State) -> Void) { state.withLock { body(&$0) } }

    /// Lets the held reads go on, and the next ones run at once.
    func release() {
        let waiting = state.withLock { state in
            state.held = false
            defer { state.holding = [] }
            return state.holding
        }
        for continuation in waiting { continuation.resume() }
    }

    /// How many reads wait in ``State/held``.
    var holding: Int { state.withLock { $0.holding.count } }
    var counts: (reads: Int, objectReads: Int, stampReads: Int) {
        state.withLock { ($0.reads, $0.objectReads, $0.stampReads) }
    }

    func read(
        assignedPolicy: @escaping @Sendable (DirectoryRead) -> String?
    ) async throws(DirectoryReadError)
        -> DirectoryRead
    {
        let (entries, computer) = try await next { $0.reads += 1 }
        return DirectoryRead(entries: entries, computerDN: computer, site: nil, server: server)
    }

    func readPolicyObjects(_ policyDN: String) async throws(DirectoryReadError) -> [DirectoryEntry] {
        let (entries, _) = try await next { $0.objectReads += 1 }
        let tree = DirectoryRead(entries: entries, computerDN: "", site: nil, server: server).tree
        let closure = Set(IPsecObjectReferences.closure(of: policyDN) { tree.sourceEntry($0) }.map(DN.normalize))
        return entries.filter { closure.contains(DN.normalize($0.dn)) }
    }

    func changeStamps(of dns: [String]) async throws(DirectoryReadError) -> [String: String] {
        let (entries, _) = try await next { $0.stampReads += 1 }
        let tree = DirectoryRead(entries: entries, computerDN: "", site: nil, server: server).tree
        var stamps: [String: String] = [:]
        for dn in dns {
            if let entry = tree.entry(dn) { stamps[DN.normalize(dn)] = entry.value("whenChanged") ?? "" }
        }
        return stamps
    }

    private func next(_ count: (inout State) -> Void) async throws(DirectoryReadError) -> ([DirectoryEntry], String) {
        let current = state.withLock { state -> State in
            count(&state)
            return state
        }
        if current.held {
            await withCheckedContinuation { continuation in
                let waits = state.withLock { state in
                    if state.held { state.holding.append(continuation) }
                    return state.held
                }
                if !waits { continuation.resume() }
            }
        }
        if current.delay > .zero { try? await Task.sleep(for: current.delay) }
        if let failure = current.failure { throw failure }
        return (current.entries, current.computerDN)
    }
}
