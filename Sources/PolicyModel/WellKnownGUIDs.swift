/// GUIDs with a fixed meaning in Windows IPsec data ([MS-GPIPSEC] §2.2.1, windows-ipsec.md §3.4).
public enum WellKnownGUID {
    /// `iPSECNegotiationPolicyAction`: block.
    public static let actionBlock = IPsecGUID("{3F91A819-7647-11D1-864D-D46A00000000}")!
    /// `iPSECNegotiationPolicyAction`: permit without IPsec.
    public static let actionPermit = IPsecGUID("{8A171DD2-77E3-11D1-8659-A04F00000000}")!
    /// `iPSECNegotiationPolicyAction`: negotiate security.
    public static let actionNegotiate = IPsecGUID("{8A171DD3-77E3-11D1-8659-A04F00000000}")!
    /// `iPSECNegotiationPolicyAction`: negotiate, accepting unsecured inbound ("inbound pass-through").
    public static let actionInboundPassThrough = IPsecGUID("{3F91A81A-7647-11D1-864D-D46A00000000}")!
    /// `iPSECNegotiationPolicyType`: a standard filter action.
    public static let typeStandard = IPsecGUID("{62F49E10-6C37-11D1-864C-14A300000000}")!
    /// `iPSECNegotiationPolicyType`: the default response rule's filter action.
    public static let typeDefaultResponse = IPsecGUID("{62F49E13-6C37-11D1-864C-14A300000000}")!
}
