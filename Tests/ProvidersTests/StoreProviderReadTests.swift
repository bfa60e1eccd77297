import Foundation
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Providers
import Synchronization
import Testing

/// The store provider reads its file once for everyone who asks while that read runs.
@Suite struct StoreProviderReadTests {
    /// ``JSONStoreCodec`` that counts its decodes, each held (on the blocking pool's thread, at most
    /// ten seconds) until the test releases it.
    final class GatedCodec: PolicyStoreCodec {
        private let state = Mutex<(decodes: Int, released: Bool)>((0, false))

        var decodes: Int { state.withLock { $0.decodes } }
        func release() { state.withLock { $0.released = true } }

        func decode(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> PolicyStore {
            state.withLock { $0.decodes += 1 }
            let deadline = ContinuousClock.now + .seconds(10)
            while !state.withLock({ $0.released }) && ContinuousClock.now < deadline { usleep(1000) }
            return try JSONStoreCodec().decode(bytes, file: file)
        }

        func encode(_ store: PolicyStore) -> [UInt8] { JSONStoreCodec().encode(store) }
    }

    /// Imports policy `name` into `store` (assigned) and returns a provider of that store reading
    /// through a ``GatedCodec``.
    static func gatedProvider(
        _ store: EditableStore,
        assigning name: String,
        in dir: TemporaryDirectory
    ) throws -> (GatedCodec, StoreProvider) {
        try importAssigned(name, space: 1, into: store, in: dir)
        let codec = GatedCodec()
        let kind: SourceKind = store == .persistent ? .persistent : .local
        return (codec, StoreProvider(kind: kind, file: StoreFile(path: store.path(in: dir.state), codec: codec)))
    }

    static func importAssigned(
        _ name: String,
        space: UInt8,
        into store: EditableStore,
        in dir: TemporaryDirectory
    ) throws {
        try StoreOperations.importPolicies(
            Fixtures.simple(name, space: space),
            into: store,
            assign: name,
            state: dir.state,
            codec: JSONStoreCodec()
        )
    }

    /// At service start the engine's change stream fires while the persistent store is being read: the
    /// merge it runs must wait for that read, not parse the whole store a second time beside it.
    @Test func aMergeDuringTheFirstReadWaitsForItInsteadOfReadingAgain() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (codec, provider) = try Self.gatedProvider(.persistent, assigning: "P1", in: dir)
        async let first = provider.load()
        #expect(await eventually { codec.decodes == 1 })
        async let second = provider.currentPolicy()
        // Time for the second caller to reach the provider while the first read is held.
        try await Task.sleep(for: .milliseconds(200))
        codec.release()
        let (loaded, asked) = await (first, second)
        #expect(loaded.policy?.policyName == "P1")
        #expect(asked == loaded)
        #expect(codec.decodes == 1)
        // A later explicit load reads again (refresh semantics are unchanged).
        await provider.load()
        #expect(codec.decodes == 2)
    }

    /// The other order: the merge's read starts first and the start's ``StoreProvider/load()`` comes
    /// while it runs. It takes that read's result, as the file has not changed since.
    @Test func aLoadDuringAMergesFirstReadTakesItsResult() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (codec, provider) = try Self.gatedProvider(.persistent, assigning: "P1", in: dir)
        async let asked = provider.currentPolicy()
        #expect(await eventually { codec.decodes == 1 })
        async let loaded = provider.load()
        try await Task.sleep(for: .milliseconds(200))
        codec.release()
        let (merge, start) = await (asked, loaded)
        #expect(start.policy?.policyName == "P1")
        #expect(merge == start)
        #expect(codec.decodes == 1)
    }

    /// A load that waited for a read of an older version of the file reads the file again.
    @Test func aLoadAfterAReadOfAnOlderVersionReadsAgain() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (codec, provider) = try Self.gatedProvider(.local, assigning: "P1", in: dir)
        async let asked = provider.currentPolicy()
        #expect(await eventually { codec.decodes == 1 })
        // An import while the first read is held: the load that comes next must see it.
        try Self.importAssigned("P2", space: 2, into: .local, in: dir)
        async let loaded = provider.load()
        try await Task.sleep(for: .milliseconds(200))
        codec.release()
        let (_, start) = await (asked, loaded)
        #expect(start.policy?.policyName == "P2")
        #expect(codec.decodes == 2)
    }
}
