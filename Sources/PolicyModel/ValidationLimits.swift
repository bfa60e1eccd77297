/// The value ranges ``PolicyStore/validate()`` enforces, in one place so that netsh and the readers
/// can quote the same limits in their messages.
///
/// Windows does not publish one table of these limits. The ranges below follow what the Windows
/// Server 2003 console and netsh accept as far as public documentation shows (windows-ipsec.md §3,
/// §6); where that is unknown the range is the widest sensible one. In every case 0 keeps its Windows
/// meaning "use the default" and is accepted.
public enum ValidationLimits {
    /// Main-mode lifetime (policy and each main-mode offer): 1 minute to 48 hours, in seconds.
    /// netsh takes `mmlifetime` in minutes, so 1 minute is the smallest value it can express; the
    /// upper bound matches the quick-mode bound (the console's 48-hour limit for session keys).
    public static let mainModeLifetimeSeconds: ClosedRange<UInt32> = 60...172_800

    /// Quick-mode (SA) lifetime in seconds: 5 minutes to 48 hours, the console's "Generate a new key
    /// every … seconds" limits.
    public static let quickModeLifetimeSeconds: ClosedRange<UInt32> = 300...172_800

    /// Quick-mode (SA) lifetime in kilobytes: 20 480 KB to 2 147 483 647 KB, the console's "Generate a
    /// new key every … Kbytes" limits.
    public static let quickModeLifetimeKilobytes: ClosedRange<UInt32> = 20_480...2_147_483_647

    /// Polling interval: 1 minute to 30 days, in seconds (netsh `pollinginterval` is in minutes).
    public static let pollingIntervalSeconds: ClosedRange<UInt32> = 60...2_592_000

    /// Quick modes per main mode: 0 (unlimited) or up to this many. netsh `qmpermm` is an integer; a
    /// signed 32-bit bound keeps every value representable in the Windows blob readers.
    public static let quickModeLimit: ClosedRange<UInt32> = 0...2_147_483_647

    /// Transforms in one quick-mode offer: the blob has three slots (an AH+ESP bundle uses two).
    public static let transformsPerOffer: ClosedRange<Int> = 1...3

    /// Main-mode offers per policy: at least one (the blob sets no upper limit).
    public static let minimumMainModeMethods = 1

    /// The longest text of each kind, in characters (Unicode scalars, as the XML schema counts them).
    /// The store reader enforces the same limits (`policies-xml/ipsec-policy.xsd`), so every store
    /// write can check them first and never leave a store its reader refuses. Windows' directory caps
    /// `description` at 1 024 characters; names get the same room. A DNS name has at most 255.
    public enum Text {
        /// Names of policies, rules, filter lists, filter actions and main-mode settings; interface names.
        public static let name = 1_024
        /// Descriptions of every object and filter.
        public static let description = 1_024
        /// DNS names in filters and tunnel endpoint names.
        public static let dnsName = 255
        /// Pre-shared keys.
        public static let preSharedKey = 1_024
        /// Root certification authority names (X.500 distinguished names).
        public static let certificateAuthority = 4_096
    }
}
