public import PolicyModel

/// The providers in effect, in merge order, and one stream that yields when any of them changes.
///
/// The engine registers the built-in providers when it starts; the plugin host registers and
/// unregisters plugin providers through the same calls while the service runs.
public actor ProviderRegistry {
    /// Why a registration was refused.
    public struct RegistrationError: Error, Hashable, Sendable, CustomStringConvertible {
        public var name: String
        public var description: String { "a policy provider named \"\(name)\" is already registered" }
    }

    private struct Entry {
        var provider: any PolicyProvider
        var forwarder: Task<Void, Never>
    }

    private var entries: [String: Entry] = [:]
    private let continuation: AsyncStream<Void>.Continuation
    /// Yields once for every change signalled by any registered provider, and on (un)registration.
    /// One consumer: the engine.
    public nonisolated let changes: AsyncStream<Void>

    public init() {
        (changes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Adds a provider and starts forwarding its change signals.
    /// - Throws: ``RegistrationError`` when the name is taken.
    public func register(_ provider: any PolicyProvider) throws(RegistrationError) {
        guard entries[provider.name] == nil else { throw RegistrationError(name: provider.name) }
        let continuation = self.continuation
        let stream = provider.changes()
        let forwarder = Task {
            for await _ in stream { continuation.yield() }
        }
        entries[provider.name] = Entry(provider: provider, forwarder: forwarder)
        continuation.yield()
    }

    /// Removes a provider; its policy leaves the effective policy at the next merge.
    public func unregister(named name: String) {
        guard let entry = entries.removeValue(forKey: name) else { return }
        entry.forwarder.cancel()
        continuation.yield()
    }

    /// The provider with this name, if registered.
    public func provider(named name: String) -> (any PolicyProvider)? { entries[name]?.provider }

    /// All providers in merge order: by rank, then by name.
    public var providers: [any PolicyProvider] {
        entries.values.map(\.provider).sorted { ($0.rank, $0.name) < ($1.rank, $1.name) }
    }

    /// The providers of one kind, in merge order.
    public func providers(of kind: SourceKind) -> [any PolicyProvider] {
        providers.filter { $0.kind == kind }
    }

    /// Stops forwarding; used when the engine shuts down.
    public func removeAll() {
        for entry in entries.values { entry.forwarder.cancel() }
        entries.removeAll()
    }
}
