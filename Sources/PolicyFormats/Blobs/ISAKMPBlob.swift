public import PolicyModel

extension IPsecData {
    /// Size of one main-mode security method in the ISAKMP blob.
    static let securityMethodSize = 64

    /// Decodes an `ipsecISAKMPPolicy` blob into main-mode settings (§3.2).
    ///
    /// Ignored on read (Windows 2000 left garbage there): Zero1, New-DH-1..4 (not implemented in
    /// 2000/XP/2003), Zero2, and in each method the key-length/rounds words, Random-Function, Zero7 and
    /// PFS-Identity-Required.
    /// - Parameters:
    ///   - id: the object's `ipsecID`; the blob does not contain it.
    public static func decodeISAKMP(
        _ bytes: [UInt8],
        id: IPsecGUID,
        context: BlobContext
    ) throws(PolicyFormatError) -> MainModeSettings {
        var cursor = BlobCursor(bytes, context: context)
        try cursor.header(expecting: .isakmp)
        let instance = try cursor.guid("ISAKMP-Policy-Instance")
        try cursor.skip(4, "Zero1")
        let masterPFS = try cursor.u32("Master-PFS-Required")
        let options = try cursor.u32("ISAKMP-Options")
        try cursor.skip(4, "New-DH")
        let quickModeLimit = try cursor.u32("QM-Limit")
        let lifetime = try cursor.u32("MM-Lifetime")
        try cursor.skip(20, "Zero2")
        let count = try cursor.u32("Security-Method-Count")
        try cursor.needCount(count, elementSize: securityMethodSize, for: "Security-Method-Count")
        var methods: [MainModeSecurityMethod] = []
        for index in 0..<Int(count) {
            methods.append(try securityMethod(&cursor, field: "Security-Method[\(index)]"))
        }
        try cursor.finish()
        return MainModeSettings(
            id: id,
            instanceID: instance,
            masterKeyPFS: masterPFS != 0,
            quickModeLimit: quickModeLimit,
            lifetimeSeconds: lifetime,
            certificateToAccountMapping: options & 1 != 0,
            omitCertificateRequest: options & 2 != 0,
            securityMethods: methods
        )
    }

    private static func securityMethod(
        _ cursor: inout BlobCursor,
        field: String
    ) throws(PolicyFormatError) -> MainModeSecurityMethod {
        let start = cursor.offset
        try cursor.skip(4, field + ".Version")
        let encryptionOffset = cursor.offset
        let encryption: MainModeEncryption
        switch try cursor.u32(field + ".Encryption") {
        case 1: encryption = .des
        // 3 is what Windows writes; the specification's table gives 2 for 3DES as well.
        case 2, 3: encryption = .tripleDES
        case let other:
            throw cursor.context.error(
                field + ".Encryption",
                at: encryptionOffset,
                "unknown main-mode encryption algorithm id \(other) (1 = DES, 3 = 3DES)"
            )
        }
        try cursor.skip(8, field + ".Encryption-Key-Length")
        let hashOffset = cursor.offset
        let hash: HashAlgorithm
        switch try cursor.u32(field + ".Hash") {
        case 1: hash = .md5
        case 2: hash = .sha1
        case let other:
            throw cursor.context.error(
                field + ".Hash",
                at: hashOffset,
                "unknown main-mode hash algorithm id \(other) (1 = MD5, 2 = SHA-1)"
            )
        }
        try cursor.skip(16, field + ".Hash-Key-Length")  // +20 key length, +24 Zero5, +28 Zero6.
        try cursor.skip(8, field + ".Random-Function")  // +36 Random-Function, +37 Zero7.
        let groupOffset = cursor.offset
        let group: DiffieHellmanGroup
        switch try cursor.u32(field + ".Oakley-Group") {
        case 1: group = .group1
        case 2: group = .group2
        case 0x1000_0001: group = .group2048
        case let other:
            throw cursor.context.error(
                field + ".Oakley-Group",
                at: groupOffset,
                "unknown Diffie-Hellman group \(other) (1, 2, or 0x10000001 for 2048 bits)"
            )
        }
        let quickModeLimit = try cursor.u32(field + ".QM-Limit")
        let kilobytes = try cursor.u32(field + ".Lifetime-KB")
        let seconds = try cursor.u32(field + ".Lifetime-Seconds")
        try cursor.skip(4, field + ".PFS-Identity-Required")
        assert(cursor.offset - start == securityMethodSize)
        return MainModeSecurityMethod(
            encryption: encryption,
            hash: hash,
            group: group,
            quickModeLimit: quickModeLimit,
            lifetimeKilobytes: kilobytes,
            lifetimeSeconds: seconds
        )
    }

    /// Encodes an `ipsecISAKMPPolicy` blob: DataLength 64 + 64·n, reserved fields zero.
    public static func encodeISAKMP(_ settings: MainModeSettings) -> [UInt8] {
        var payload = BlobWriter()
        payload.guid(settings.instanceID)
        payload.u32(0)
        payload.u32(settings.masterKeyPFS ? 1 : 0)
        payload.u32((settings.certificateToAccountMapping ? 1 : 0) | (settings.omitCertificateRequest ? 2 : 0))
        payload.zeros(4)
        payload.u32(settings.quickModeLimit)
        payload.u32(settings.lifetimeSeconds)
        payload.zeros(20)
        payload.u32(UInt32(settings.securityMethods.count))
        for method in settings.securityMethods {
            payload.zeros(4)
            payload.u32(method.encryption == .des ? 1 : 3)
            payload.zeros(8)
            payload.u32(method.hash == .md5 ? 1 : 2)
            payload.zeros(16)
            payload.zeros(8)
            switch method.group {
            case .group1: payload.u32(1)
            case .group2: payload.u32(2)
            case .group2048: payload.u32(0x1000_0001)
            }
            payload.u32(method.quickModeLimit)
            payload.u32(method.lifetimeKilobytes)
            payload.u32(method.lifetimeSeconds)
            payload.u32(0)
        }
        return BlobWriter.frame(.isakmp, dataLength: payload.bytes.count, payload: payload.bytes)
    }
}
