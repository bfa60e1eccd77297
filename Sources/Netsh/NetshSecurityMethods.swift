package import PolicyModel

/// The netsh notations for security methods: `mmsecmethods` (`3DES-SHA1-2`) and `qmsecmethods`
/// (`ESP[3DES,SHA1]:100000k/3600s AH[MD5] AH[SHA1]+ESP[DES,None]`). Pure functions.
package enum NetshSecurityMethods {
    // MARK: - Main mode

    /// Parses a space-separated `ConfAlg-HashAlg-GroupNum` list. A missing group number means 2
    /// (the medium group Windows offers with 3DES by default).
    package static func parseMainMode(
        _ text: String,
        tag: String = "mmsecmethods"
    ) throws(NetshError)
        -> [MainModeSecurityMethod]
    {
        let items = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" })
        guard !items.isEmpty else { throw .invalidValue(tag, text, accepted: mainModeAccepted) }
        var result: [MainModeSecurityMethod] = []
        for item in items {
            let parts = item.split(separator: "-").map { $0.uppercased() }
            guard parts.count == 2 || parts.count == 3,
                let encryption = MainModeEncryption(rawValue: parts[0]),
                let hash = HashAlgorithm(rawValue: parts[1])
            else { throw .invalidValue(tag, String(item), accepted: mainModeAccepted) }
            var group = DiffieHellmanGroup.group2
            if parts.count == 3 {
                guard let number = Int(parts[2]),
                    let found = DiffieHellmanGroup.allCases.first(where: { $0.netshNumber == number })
                else { throw .invalidValue(tag, String(item), accepted: mainModeAccepted) }
                group = found
            }
            result.append(MainModeSecurityMethod(encryption: encryption, hash: hash, group: group))
        }
        return result
    }

    static let mainModeAccepted =
        "ConfAlg-HashAlg-GroupNum with ConfAlg DES or 3DES, HashAlg MD5 or SHA1, GroupNum 1, 2 or 3 (e.g. 3DES-SHA1-2)"

    /// `3DES-SHA1-2`.
    package static func format(_ method: MainModeSecurityMethod) -> String {
        "\(method.encryption.rawValue)-\(method.hash.rawValue)-\(method.group.netshNumber)"
    }

    package static func format(_ methods: [MainModeSecurityMethod]) -> String {
        methods.map(format).joined(separator: " ")
    }

    // MARK: - Quick mode

    static let quickModeAccepted =
        "ESP[ConfAlg,AuthAlg]:k/s, AH[HashAlg]:k/s or AH[HashAlg]+ESP[ConfAlg,AuthAlg]:k/s with ConfAlg DES, 3DES or None, AuthAlg MD5, SHA1 or None, HashAlg MD5 or SHA1"

    /// Parses a space-separated list of quick-mode offers; `pfs` sets session-key PFS on each.
    package static func parseQuickMode(
        _ text: String,
        pfs: Bool = false,
        tag: String = "qmsecmethods"
    )
        throws(NetshError) -> [SecurityOffer]
    {
        let items = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard !items.isEmpty else { throw .invalidValue(tag, text, accepted: quickModeAccepted) }
        var offers: [SecurityOffer] = []
        for item in items {
            guard let offer = parseOffer(String(item), pfs: pfs) else {
                throw .invalidValue(tag, String(item), accepted: quickModeAccepted)
            }
            offers.append(offer)
        }
        return offers
    }

    private static func parseOffer(_ item: String, pfs: Bool) -> SecurityOffer? {
        var body = Substring(item)
        var kilobytes: UInt32 = 0
        var seconds: UInt32 = 0
        if let colon = body.firstIndex(of: ":") {
            let lifetimes = body[body.index(after: colon)...]
            body = body[..<colon]
            for part in lifetimes.split(separator: "/") {
                let lower = part.lowercased()
                if lower.hasSuffix("k"), let value = UInt32(lower.dropLast()) {
                    kilobytes = value
                } else if lower.hasSuffix("s"), let value = UInt32(lower.dropLast()) {
                    seconds = value
                } else {
                    return nil
                }
            }
        }
        var transforms: [Transform] = []
        for piece in body.split(separator: "+") {
            guard let transform = parseTransform(piece) else { return nil }
            transforms.append(transform)
        }
        guard (1...2).contains(transforms.count) else { return nil }
        return SecurityOffer(
            transforms: transforms,
            lifetimeKilobytes: kilobytes,
            lifetimeSeconds: seconds,
            perfectForwardSecrecy: pfs
        )
    }

    private static func parseTransform(_ text: Substring) -> Transform? {
        guard let open = text.firstIndex(of: "["), text.hasSuffix("]") else { return nil }
        let kind = text[..<open].uppercased()
        let inside = text[text.index(after: open)..<text.index(before: text.endIndex)]
        let algorithms = inside.split(separator: ",", omittingEmptySubsequences: false).map { $0.uppercased() }
        switch kind {
        case "AH":
            guard algorithms.count == 1, let hash = HashAlgorithm(rawValue: algorithms[0]) else { return nil }
            return .ah(hash)
        case "ESP":
            guard algorithms.count == 2 else { return nil }
            let encryption: ESPEncryption? =
                switch algorithms[0] {
                case "NONE": ESPEncryption.none
                case "DES": .des
                case "3DES": .tripleDES
                default: nil
                }
            guard let encryption else { return nil }
            let integrity: HashAlgorithm?
            if algorithms[1] == "NONE" {
                integrity = nil
            } else if let hash = HashAlgorithm(rawValue: algorithms[1]) {
                integrity = hash
            } else {
                return nil
            }
            // ESP with neither encryption nor integrity protects nothing; netsh refuses it too.
            if encryption == .none && integrity == nil { return nil }
            return .esp(encryption: encryption, integrity: integrity)
        default:
            return nil
        }
    }

    /// `ESP[3DES,SHA1]:100000k/3600s`; the lifetime part is left out when both lifetimes are the default.
    package static func format(_ offer: SecurityOffer) -> String {
        let transforms = offer.transforms.map { transform in
            switch transform {
            case .ah(let hash): "AH[\(hash.rawValue)]"
            case .esp(let encryption, let integrity): "ESP[\(encryption.rawValue),\(integrity?.rawValue ?? "None")]"
            }
        }
        .joined(separator: "+")
        if offer.lifetimeKilobytes == 0 && offer.lifetimeSeconds == 0 { return transforms }
        return transforms + ":\(offer.lifetimeKilobytes)k/\(offer.lifetimeSeconds)s"
    }

    package static func format(_ offers: [SecurityOffer]) -> String {
        offers.map(format).joined(separator: " ")
    }

    /// The default response rule's offers as Windows 2000 wrote them (windows-ipsec.md §3.4).
    package static let defaultResponseOffers: [SecurityOffer] =
        SecurityOffer.windowsDefaults + [
            SecurityOffer(transforms: [.ah(.sha1)]),
            SecurityOffer(transforms: [.ah(.md5)]),
        ]

    // MARK: - Root CA

    /// Parses `rootca="<CA name> certmap:yes|no excludecaname:yes|no"`; `\'` stands for an embedded `"`.
    package static func parseRootCA(_ text: String) throws(NetshError) -> CertificateAuthority {
        var words = text.replacing("\\'", with: "\"").split(separator: " ", omittingEmptySubsequences: true)
        var authority = CertificateAuthority(name: "")
        while let last = words.last {
            let lower = last.lowercased()
            if lower.hasPrefix("certmap:") {
                authority.certificateToAccountMapping = try yesNo(lower.dropFirst(8), "rootca certmap")
            } else if lower.hasPrefix("excludecaname:") {
                authority.excludeCAName = try yesNo(lower.dropFirst(14), "rootca excludecaname")
            } else {
                break
            }
            words.removeLast()
        }
        authority.name = words.joined(separator: " ")
        guard !authority.name.isEmpty else {
            throw .invalidValue("rootca", text, accepted: "\"<certificate> certmap:(yes|no) excludecaname:(yes|no)\"")
        }
        return authority
    }

    /// The `rootca` value for a CA, ready to be quoted.
    package static func format(_ authority: CertificateAuthority) -> String {
        let name = authority.name.replacing("\"", with: "\\'")
        let map = authority.certificateToAccountMapping ? "yes" : "no"
        let exclude = authority.excludeCAName ? "yes" : "no"
        return "\(name) certmap:\(map) excludecaname:\(exclude)"
    }

    private static func yesNo(_ text: Substring, _ tag: String) throws(NetshError) -> Bool {
        switch text {
        case "yes", "y": true
        case "no", "n": false
        default: throw .invalidValue(tag, String(text), accepted: "yes, no")
        }
    }
}
