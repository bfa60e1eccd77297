public import PolicyModel

/// The `ipsecData` blob types: the GUID in a blob's first 16 bytes says which object it belongs to
/// ([MS-GPIPSEC] §2.2.1, windows-ipsec.md §3.0).
public enum BlobType: Hashable, Sendable, CaseIterable {
    case policy
    case isakmp
    case nfa
    case negotiationPolicy
    case filter

    /// The BlobTypeID.
    public var guid: IPsecGUID {
        switch self {
        case .policy: Self.policyGUID
        case .isakmp: Self.isakmpGUID
        case .nfa: Self.nfaGUID
        case .negotiationPolicy: Self.negotiationPolicyGUID
        case .filter: Self.filterGUID
        }
    }

    /// The object class whose `ipsecData` holds this type.
    public var objectClass: IPsecObjectClass {
        switch self {
        case .policy: .policy
        case .isakmp: .isakmp
        case .nfa: .nfa
        case .negotiationPolicy: .negotiationPolicy
        case .filter: .filter
        }
    }

    /// `ipsecDataType`: 256 (0x100) for every class in the data Windows writes.
    public static let dataType: UInt32 = 0x100

    /// `ipsecDataType` 598 (0x256): the value of Windows' own default objects in every Active Directory
    /// domain (the ones Samba provisions from Windows' data, `provision.ldif`). The blobs are the same.
    public static let defaultObjectsDataType: UInt32 = 598

    /// The `ipsecDataType` values readers accept; writers always write ``dataType``.
    public static let acceptedDataTypes: [UInt32] = [dataType, defaultObjectsDataType]

    private static let policyGUID = IPsecGUID("{22202163-4F4C-11D1-863B-00A0248D3021}")!
    private static let isakmpGUID = IPsecGUID("{80DC20B8-2EC8-11D1-A89E-00A0248D3021}")!
    private static let nfaGUID = IPsecGUID("{11BBAC00-498D-11D1-8639-00A0248D3021}")!
    private static let negotiationPolicyGUID = IPsecGUID("{80DC20B9-2EC8-11D1-A89E-00A0248D3021}")!
    private static let filterGUID = IPsecGUID("{80DC20B5-2EC8-11D1-A89E-00A0248D3021}")!
    /// The Vista+ V2 filter section that may follow the V1 filters; Windows Server 2003 ignores it.
    static let filterV2GUID = IPsecGUID("{35FECD3D-AE29-4373-8A6A-C5D8FAB2FB08}")!
}
