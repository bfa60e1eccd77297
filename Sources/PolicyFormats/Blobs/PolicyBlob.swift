/// Decoding and encoding of `ipsecData` blobs (windows-ipsec.md §3), one namespace per object type.
///
/// Reading is lenient where Windows writers differ (DataLength is ignored and counts drive the parse;
/// "zero" fields that Windows 2000 filled with garbage are ignored; the modern NFA alternate-
/// authentication extension and a missing pad byte are accepted) and strict where data is broken
/// (truncation, counts larger than the data, unknown type GUIDs or algorithm ids, trailing bytes).
/// Writing follows the Windows Server 2003 conventions: DataLength as the 2003 writer counts it,
/// zero in every reserved field, one 0x00 pad byte.
public enum IPsecData {
    /// Decodes an `ipsecPolicy` blob: the Polling-Interval in seconds (§3.1).
    public static func decodePolicy(_ bytes: [UInt8], context: BlobContext) throws(PolicyFormatError) -> UInt32 {
        var cursor = BlobCursor(bytes, context: context)
        try cursor.header(expecting: .policy)
        let interval = try cursor.u32("Polling-Interval")
        try cursor.finish()
        return interval
    }

    /// Encodes an `ipsecPolicy` blob (25 bytes, DataLength 4).
    public static func encodePolicy(pollingIntervalSeconds: UInt32) -> [UInt8] {
        var payload = BlobWriter()
        payload.u32(pollingIntervalSeconds)
        return BlobWriter.frame(.policy, dataLength: 4, payload: payload.bytes)
    }
}
