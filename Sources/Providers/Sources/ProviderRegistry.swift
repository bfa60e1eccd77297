public import PolicyModel

/// The providers in effect, in merge order, and one stream that yields when any of them changes.
///
/// The engine registers the built-in providers when it starts; the plugin host registers and
/// unregisters plugin providers through the same calls while the service runs. The forwarding of each
/// provider's change signals runs as a child of ``run()`` (a child of the engine's background work), from
/// the provider's registration until it is unregistered: none outlives that call.
public actor ProviderRegistry {
    /// Why a registration was refused.
    public struct RegistrationError: Error, Hashable, Sendable, CustomStringConvertible {
        public var name: String
        public var description: String { "a policy provider named \"\(name)\" is already registered" }
    }

    private struct Entry {
        var provider: any PolicyProvider
        /// Finished when the provider is unregistered: its forwarding in ``run()`` then ends.
        var registered: AsyncStream<Void>.Continuation
    }

    /// What ``run()`` forwards for one registered provider.
    private struct Forwarding: Sendable {
        /// The provider's ``PolicyProvider/changes()``, asked for once at its registration.
        let changes: AsyncStream<Void>
        /// Ends when the provider is unregistered.
        let registered: AsyncStream<Void>
    }

    private var entries: [String: Entry] = [:]
    private let continuation: AsyncStream<Void>.Continuation
    /// Yields once for every change signalled by any registered provider while ``run()`` runs, and on
    /// (un)registration. One consumer: the engine.
    public nonisolated let changes: AsyncStream<Void>
    private nonisolated let forwardings: AsyncStream<Forwarding>
    private nonisolated let forwardingSink: AsyncStream<Forwarding>.Continuation

    public init() {
        (changes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        (forwardings, forwardingSink) = AsyncStream.makeStream()
    }

    /// Adds a provider; ``run()`` forwards its change signals from now on.
    /// - Throws: ``RegistrationError`` when the name is taken.
    public func register(_ provider: any PolicyProvider) throws(RegistrationError) {
        guard entries[provider.name] == nil else { throw RegistrationError(name: provider.name) }
        let (registered, registration) = AsyncStream<Void>.makeStream()
        forwardingSink.yield(Forwarding(changes: provider.changes(), registered: registered))
        entries[provider.name] = Entry(provider: provider, registered: registration)
        continuation.yield()
    }

    /// Removes a provider; its policy leaves the effective policy at the next merge, and its change
    /// signals are no longer forwarded.
    public func unregister(named name: String) {
        guard let entry = entries.removeValue(forKey: name) else { return }
        entry.registered.finish()
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

    /// Forwards the change signals of every provider registered before or while it runs to ``changes``,
    /// each as a child of this call until the provider is unregistered, until the calling task is
    /// cancelled (the engine's background work ends). Call it once.
    public nonisolated func run() async {
        let continuation = continuation
        await withDiscardingTaskGroup { group in
            for await forwarding in forwardings {
                group.addTask {
                    await withDiscardingTaskGroup { own in
                        own.addTask { for await _ in forwarding.changes { continuation.yield() } }
                        // Until the provider is unregistered (or this call is cancelled).
                        for await _ in forwarding.registered {}
                        own.cancelAll()
                    }
                }
            }
        }
    }
}
