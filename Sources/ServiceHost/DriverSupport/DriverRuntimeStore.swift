import DecisionCore
import Driver
import FoundationEssentials
import IPsecSystem
import PolicyModel

/// What the driver process keeps of the last state it accepted: mode, settings, and the table as the
/// agent sent it.
struct DriverRuntimeRecord: Hashable, Sendable, Codable {
    var mode: DriverMode?
    var exemptions: [BootExemption] = []
    var settings = DriverSettings()
    /// The table's stamp; `nil` before any table.
    var stamp: PolicyStamp?
    /// The fast-path epoch in use when this was written (a restart goes on from it).
    var epoch: UInt32 = 0
    /// Seconds since 1970 UTC.
    var savedAt: Int64 = 0
}

/// The driver's last accepted state in its runtime directory (`driver-table` beside the driver socket, in
/// `/run` by default): written durably before each accepted change is enforced, read when the driver
/// process starts. `/run` is empty after a reboot, so its absence means computer startup.
///
/// Layout: `IPSR`, u16 version, u32 + JSON of ``DriverRuntimeRecord``, u32 + the table (``PolicyWire``
/// bytes, empty before any table).
struct DriverRuntimeStore: Sendable {
    static let magic: [UInt8] = Array("IPSR".utf8)
    static let version: UInt16 = 1

    let path: String

    /// The saved state and table bytes; `nil` when there is none.
    /// - Throws: ``SystemError`` when the file cannot be read, ``PolicyWireError`` when it does not parse.
    func load() throws -> (record: DriverRuntimeRecord, table: ArraySlice<UInt8>)? {
        guard let bytes = try FileSystem.readIfPresent(path, limit: DriverLink.maxTableBytes + DriverLink.maxJSONBytes)
        else { return nil }
        // The table stays in the bytes read (a slice, not a copy: 16 MB at 100,000 rules).
        let (record, table) = try bytes.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            guard Array(try reader.bytes(4)) == Self.magic, try reader.u16() == Self.version else {
                throw reader.error("\(path) is not a driver table of version \(Self.version)")
            }
            let record: DriverRuntimeRecord = try reader.json(JSONDecoder(), "the driver state")
            let count = Int(try reader.u32())
            let start = reader.offset
            _ = try reader.bytes(count)
            return (record, start..<start + count)
        }
        return (record, bytes[table])
    }

    /// The saved state with its table decoded, and when each was done (a restarting driver journals
    /// them); `nil` when there is none. Blocks: run it on the `BlockingPool`.
    /// - Throws: as ``load()``, and ``PolicyWireError`` when the table does not decode.
    func loadDecoded() throws -> SavedDriverState? {
        guard let saved = try load() else { return nil }
        let read = SystemClock.monotonicMicroseconds()
        let policy = saved.table.isEmpty ? EffectivePolicy.empty : try PolicyWire.decode(saved.table)
        return SavedDriverState(
            record: saved.record,
            table: saved.table,
            policy: policy,
            read: read,
            decoded: SystemClock.monotonicMicroseconds()
        )
    }

    /// Replaces the saved state (temporary file, fsync, rename).
    func save(_ record: DriverRuntimeRecord, table: ArraySlice<UInt8>) throws {
        var writer = WireWriter(capacity: table.count + 4096)
        writer.bytes(Self.magic)
        writer.u16(Self.version)
        writer.blob(Array(try JSONEncoder().encode(record)))
        writer.blob(table)
        try FileSystem.makeDirectories(FileSystem.directory(of: path), mode: 0o755)
        try DurableFile.write(writer.buffer, to: path, permissions: 0o600)
    }
}

/// A saved state read back (``DriverRuntimeStore/loadDecoded()``): the table as saved and decoded, with
/// when it was read and decoded (monotonic µs).
struct SavedDriverState: Sendable {
    var record: DriverRuntimeRecord
    var table: ArraySlice<UInt8>
    var policy: EffectivePolicy
    var read: UInt64
    var decoded: UInt64
}
