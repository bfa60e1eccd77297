public import PolicyModel

/// What an `ipsecNFA` blob holds: everything about a rule except its name and references.
public struct NFAData: Hashable, Sendable {
    public var authenticationMethods: [AuthenticationMethod]
    public var interfaceType: InterfaceType
    public var interfaceName: String
    /// `nil` when Is-Tunnel-Specifier is 0 (the stored address is then ignored).
    public var tunnelEndpoint: IPv4Address?
    public var tunnelEndpointName: String
    public var isActive: Bool

    public init(
        authenticationMethods: [AuthenticationMethod],
        interfaceType: InterfaceType,
        interfaceName: String = "",
        tunnelEndpoint: IPv4Address? = nil,
        tunnelEndpointName: String = "",
        isActive: Bool = true
    ) {
        self.authenticationMethods = authenticationMethods
        self.interfaceType = interfaceType
        self.interfaceName = interfaceName
        self.tunnelEndpoint = tunnelEndpoint
        self.tunnelEndpointName = tunnelEndpointName
        self.isActive = isActive
    }
}

extension IPsecData {
    /// The alternate-authentication extension's section markers: 16 × 0x01, then 15 × 0x01 + 0x02 / 0x03
    /// (the specification prints these GUIDs malformed; windows-ipsec.md §9).
    static let altAuthMarker1 = [UInt8](repeating: 1, count: 16)
    static let altAuthMarker2 = [UInt8](repeating: 1, count: 15) + [2]
    static let altAuthMarker3 = [UInt8](repeating: 1, count: 15) + [3]

    /// Decodes an `ipsecNFA` blob (§3.3).
    ///
    /// The counted part is parsed by its counts. After it, a modern writer's alternate-authentication
    /// extension is accepted: its per-method flags become the certificate methods'
    /// `certificateToAccountMapping` (bit 0) and `excludeCAName` (bit 1); its copy of the methods and
    /// its IPv6 tunnel section are not used (Windows Server 2003 ignores the extension).
    public static func decodeNFA(_ bytes: [UInt8], context: BlobContext) throws(PolicyFormatError) -> NFAData {
        var cursor = BlobCursor(bytes, context: context)
        try cursor.header(expecting: .nfa)
        let count = try cursor.u32("Auth-Method-Count")
        try cursor.needCount(count, elementSize: 8, for: "Auth-Method-Count")
        var methods: [AuthenticationMethod] = []
        for index in 0..<Int(count) {
            let field = "Auth-Method[\(index)]"
            let typeOffset = cursor.offset
            let type = try cursor.u32(field + ".Auth-Type")
            let data = try cursor.string(field + ".Auth-Method-Data")
            switch type {
            case 1: methods.append(.preSharedKey(data))
            case 3: methods.append(.certificate(CertificateAuthority(name: data)))
            case 5: methods.append(.kerberos)
            default:
                throw context.error(
                    field + ".Auth-Type",
                    at: typeOffset,
                    "unknown authentication type \(type) (1 = pre-shared key, 3 = certificate, 5 = Kerberos)"
                )
            }
        }
        let interfaceOffset = cursor.offset
        let rawInterface = try cursor.u32("Interface-Type")
        guard let interfaceType = InterfaceType(windowsValue: rawInterface) else {
            throw context.error(
                "Interface-Type",
                at: interfaceOffset,
                "unknown interface type 0x\(String(rawInterface, radix: 16, uppercase: true)) (0xFFFFFFFD all, 0xFFFFFFFE LAN, 0xFFFFFFFF dial-up)"
            )
        }
        let interfaceName = try cursor.string("Interface-Name")
        let tunnelAddress = try cursor.ipv4("Tunnel-Address")
        let isTunnel = try cursor.u32("Is-Tunnel-Specifier") != 0
        let isActive = try cursor.u32("Is-Active-Specifier") != 0
        let endpointName = try cursor.string("Tunnel-End-Point-Name")
        if cursor.remaining >= 16, Array(cursor.bytes[cursor.offset..<(cursor.offset + 16)]) == altAuthMarker1 {
            let flags = try alternateAuthenticationFlags(&cursor)
            for (index, flag) in flags.enumerated() where index < methods.count {
                if case .certificate(var authority) = methods[index] {
                    authority.certificateToAccountMapping = flag & 1 != 0
                    authority.excludeCAName = flag & 2 != 0
                    methods[index] = .certificate(authority)
                }
            }
        }
        try cursor.finish()
        return NFAData(
            authenticationMethods: methods,
            interfaceType: interfaceType,
            interfaceName: interfaceName,
            tunnelEndpoint: isTunnel ? tunnelAddress : nil,
            tunnelEndpointName: endpointName,
            isActive: isActive
        )
    }

    /// Reads the alternate-authentication extension and returns its per-method flags.
    private static func alternateAuthenticationFlags(_ cursor: inout BlobCursor) throws(PolicyFormatError) -> [UInt32] {
        try cursor.skip(16, "Alt-Auth.Marker1")
        let count = try cursor.u32("Alt-Auth.Method-Count")
        try cursor.needCount(count, elementSize: 8, for: "Alt-Auth.Method-Count")
        for index in 0..<Int(count) {
            _ = try cursor.u32("Alt-Auth.Method[\(index)].Type")
            let lengthOffset = cursor.offset
            let length = try cursor.u32("Alt-Auth.Method[\(index)].Length")
            guard UInt64(length) <= UInt64(cursor.remaining) else {
                throw cursor.context.error(
                    "Alt-Auth.Method[\(index)].Length",
                    at: lengthOffset,
                    "length \(length) is larger than the data (\(cursor.remaining) bytes remain)"
                )
            }
            try cursor.skip(Int(length), "Alt-Auth.Method[\(index)].Data")
        }
        // The flags section always follows the methods; the IPv6 tunnel section is optional.
        var flags: [UInt32] = []
        let markerOffset = cursor.offset
        guard Array(try cursor.take(16, "Alt-Auth.Marker2")) == altAuthMarker2 else {
            throw cursor.context.error("Alt-Auth.Marker2", at: markerOffset, "expected the flags section marker")
        }
        let flagCount = try cursor.u32("Alt-Auth.Flag-Count")
        try cursor.needCount(flagCount, elementSize: 4, for: "Alt-Auth.Flag-Count")
        for index in 0..<Int(flagCount) { flags.append(try cursor.u32("Alt-Auth.Flags[\(index)]")) }
        let tunnelOffset = cursor.offset
        if cursor.remaining > 1 {
            guard Array(try cursor.take(16, "Alt-Auth.Marker3")) == altAuthMarker3 else {
                throw cursor.context.error(
                    "Alt-Auth.Marker3",
                    at: tunnelOffset,
                    "expected the IPv6 tunnel section marker"
                )
            }
            try cursor.skip(16, "Alt-Auth.IPv6-Tunnel-Address")
        }
        return flags
    }

    /// Encodes an `ipsecNFA` blob: DataLength counts Auth-Method-Count through Tunnel-End-Point-Name.
    ///
    /// Windows Server 2003 has no place for per-CA certificate-mapping flags other than the modern
    /// extension, so the extension is appended (after the counted part, before the pad) only when a
    /// certificate method sets one of them; 2003 ignores it, later Windows reads it.
    public static func encodeNFA(_ data: NFAData) -> [UInt8] {
        var payload = BlobWriter()
        payload.u32(UInt32(data.authenticationMethods.count))
        for method in data.authenticationMethods {
            let (type, text) = authenticationTypeAndData(method)
            payload.u32(type)
            payload.string(text)
        }
        payload.u32(data.interfaceType.windowsValue)
        payload.string(data.interfaceName)
        payload.ipv4(data.tunnelEndpoint ?? .any)
        payload.u32(data.tunnelEndpoint == nil ? 0 : 1)
        payload.u32(data.isActive ? 1 : 0)
        payload.string(data.tunnelEndpointName)
        let counted = payload.bytes.count
        let flags = data.authenticationMethods.map { method -> UInt32 in
            guard case .certificate(let authority) = method else { return 0 }
            return (authority.certificateToAccountMapping ? 1 : 0) | (authority.excludeCAName ? 2 : 0)
        }
        if flags.contains(where: { $0 != 0 }) {
            payload.append(altAuthMarker1)
            payload.u32(UInt32(data.authenticationMethods.count))
            for method in data.authenticationMethods {
                let (type, text) = authenticationTypeAndData(method)
                payload.u32(type)
                // Modern writers store Kerberos with no data; the other methods keep their string.
                if case .kerberos = method { payload.u32(0) } else { payload.string(text) }
            }
            payload.append(altAuthMarker2)
            payload.u32(UInt32(flags.count))
            for flag in flags { payload.u32(flag) }
        }
        return BlobWriter.frame(.nfa, dataLength: counted, payload: payload.bytes)
    }

    private static func authenticationTypeAndData(_ method: AuthenticationMethod) -> (UInt32, String) {
        switch method {
        case .kerberos: (5, "")
        case .preSharedKey(let key): (1, key)
        case .certificate(let authority): (3, authority.name)
        }
    }
}
