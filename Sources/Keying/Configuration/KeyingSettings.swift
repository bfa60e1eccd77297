/// How ESP reaches the wire (`ike_datapath`).
public enum KeyingDatapath: String, Hashable, Sendable, Codable, CaseIterable {
    /// The kernel's XFRM: transport and tunnel mode, ESP and AH; `-m policy --pol ipsec` tells
    /// protected packets apart; charon's trap policies start negotiations through the kernel's acquire.
    case kernel
    /// strongSwan's kernel-libipsec: userspace ESP over a TUN device, tunnel mode only (host /32
    /// selectors stand in for transport mode), no AH, no null encryption; packets that enter or leave
    /// through the TUN device are the protected ones; charon 5.9.8 sends no acquire, so ipsecsvc starts
    /// every negotiation itself.
    case libipsec
}

/// The keying settings of `ipsecsvc.conf` (`ike_*`), with their defaults.
public struct KeyingSettings: Hashable, Sendable {
    /// `ike_vici_socket`: charon's vici socket.
    public var viciSocket: String
    /// `ike_datapath`.
    public var datapath: KeyingDatapath
    /// `ike_libipsec_interface`: the TUN device of kernel-libipsec.
    public var libipsecInterface: String
    /// `ike_ca_dir`: root CA certificates (PEM or DER) that rules name by distinguished name.
    public var caDirectory: String?
    /// `ike_cert_dir`: this host's certificates and private keys (PEM or DER).
    public var certificateDirectory: String?
    /// How long a soft rule waits for a peer that does not answer IKE before it falls back to clear
    /// (Windows Server 2003: 3 seconds).
    public var softFallbackDelay: Duration
    /// How long an unused soft association lives (Windows: 5 minutes), unless the rule says otherwise.
    public var softAssociationIdle: Duration
    /// How long ipsecsvc waits for one negotiation it started before it reports a failure.
    public var negotiationTimeout: Duration

    public init(
        viciSocket: String = "/run/charon.vici",
        datapath: KeyingDatapath = .kernel,
        libipsecInterface: String = "ipsec0",
        caDirectory: String? = nil,
        certificateDirectory: String? = nil,
        softFallbackDelay: Duration = .seconds(3),
        softAssociationIdle: Duration = .seconds(300),
        negotiationTimeout: Duration = .seconds(30)
    ) {
        self.viciSocket = viciSocket
        self.datapath = datapath
        self.libipsecInterface = libipsecInterface
        self.caDirectory = caDirectory
        self.certificateDirectory = certificateDirectory
        self.softFallbackDelay = softFallbackDelay
        self.softAssociationIdle = softAssociationIdle
        self.negotiationTimeout = negotiationTimeout
    }
}
