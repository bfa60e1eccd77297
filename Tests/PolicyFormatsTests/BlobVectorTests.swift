import Foundation
import PolicyFormats
import PolicyModel
import Testing

/// The real Windows-written blobs of `Fixtures/windows/ipsecdata-vectors.json`.
struct BlobVector: CustomTestStringConvertible, Sendable {
    var key: String
    var repo: String
    var bytes: [UInt8]
    var decodedJSON: Data

    var testDescription: String { "\(repo): \(key.split(separator: "\\").last ?? "")" }

    var decoded: [String: Any] { (try? JSONSerialization.jsonObject(with: decodedJSON) as? [String: Any]) ?? [:] }
    var kind: String { decoded["kind"] as? String ?? "" }

    static let all: [BlobVector] = {
        guard
            let url = Bundle.module.url(
                forResource: "ipsecdata-vectors",
                withExtension: "json",
                subdirectory: "Fixtures/windows"
            ),
            let data = try? Data(contentsOf: url),
            let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let vectors = root["vectors"] as? [[String: Any]]
        else { return [] }
        return vectors.map { vector in
            let source = vector["source"] as? [String: Any] ?? [:]
            let decoded = (try? JSONSerialization.data(withJSONObject: vector["decoded"] ?? [:])) ?? Data()
            return BlobVector(
                key: vector["registry_key"] as? String ?? "",
                repo: source["repo"] as? String ?? "",
                bytes: hexBytes(vector["hex"] as? String ?? ""),
                decodedJSON: decoded
            )
        }
    }()

    /// Whether Windows Server 2003 would write these exact bytes: the 2003 framing (pad byte, 2003
    /// DataLength), no NFA extension, and zero in the fields Windows 2000 filled with garbage.
    var isWrittenIn2003Convention: Bool {
        switch kind {
        case "policy": true
        case "isakmp", "negpol": repo == "Gorstak1979/GSecurity"  // vpnease's Win2000 writer left garbage.
        default: false  // GSecurity's NFAs carry the modern extension, its filters the modern DataLength.
        }
    }
}

func hexBytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).map {
        UInt8(String(decoding: digits[$0...($0 + 1)], as: UTF8.self), radix: 16)!
    }
}

@Suite struct BlobVectorTests {
    @Test func allVectorsAreLoaded() {
        #expect(BlobVector.all.count == 12)
    }

    @Test(arguments: BlobVector.all)
    func decodesToListedFieldsAndReencodes(vector: BlobVector) throws {
        let context = BlobContext(file: "ipsecdata-vectors.json", object: vector.key)
        let fields = vector.decoded
        let reencoded: [UInt8]
        switch vector.kind {
        case "policy":
            let interval = try IPsecData.decodePolicy(vector.bytes, context: context)
            #expect(Int(interval) == fields["polling"] as? Int)
            reencoded = IPsecData.encodePolicy(pollingIntervalSeconds: interval)
            #expect(try IPsecData.decodePolicy(reencoded, context: context) == interval)
        case "isakmp":
            let settings = try IPsecData.decodeISAKMP(vector.bytes, id: .zero, context: context)
            try checkISAKMP(settings, fields)
            reencoded = IPsecData.encodeISAKMP(settings)
            #expect(try IPsecData.decodeISAKMP(reencoded, id: .zero, context: context) == settings)
        case "negpol":
            let data = try IPsecData.decodeNegotiationPolicy(vector.bytes, context: context)
            try checkOffers(data, fields)
            reencoded = IPsecData.encodeNegotiationPolicy(data)
            #expect(try IPsecData.decodeNegotiationPolicy(reencoded, context: context) == data)
        case "nfa":
            let data = try IPsecData.decodeNFA(vector.bytes, context: context)
            try checkNFA(data, fields)
            reencoded = IPsecData.encodeNFA(data)
            #expect(try IPsecData.decodeNFA(reencoded, context: context) == data)
        case "filter":
            let filters = try IPsecData.decodeFilter(vector.bytes, context: context)
            try checkFilters(filters, fields)
            reencoded = try IPsecData.encodeFilter(filters, context: context)
            #expect(try IPsecData.decodeFilter(reencoded, context: context) == filters)
        default:
            Issue.record("unknown kind \(vector.kind)")
            return
        }
        if vector.isWrittenIn2003Convention {
            #expect(reencoded == vector.bytes, "byte-exact re-encoding")
        } else {
            #expect(reencoded != vector.bytes, "a normalised vector should be listed as 2003-convention")
        }
    }

    private func checkISAKMP(_ settings: MainModeSettings, _ fields: [String: Any]) throws {
        #expect(settings.instanceID.plain == fields["instance"] as? String)
        #expect(settings.masterKeyPFS == ((fields["masterpfs"] as? Int) != 0))
        #expect(Int(settings.quickModeLimit) == fields["qmlimit"] as? Int)
        #expect(Int(settings.lifetimeSeconds) == fields["mmlifetime"] as? Int)
        let options = fields["options"] as? Int ?? -1
        #expect(settings.certificateToAccountMapping == (options & 1 != 0))
        #expect(settings.omitCertificateRequest == (options & 2 != 0))
        let methods = try #require(fields["methods"] as? [[String: Any]])
        #expect(settings.securityMethods.count == methods.count)
        for (method, expected) in zip(settings.securityMethods, methods) {
            #expect((method.encryption == .des ? 1 : 3) == expected["enc"] as? Int)
            #expect((method.hash == .md5 ? 1 : 2) == expected["hash"] as? Int)
            let group = ["0x1": DiffieHellmanGroup.group1, "0x2": .group2, "0x10000001": .group2048]
            #expect(group[expected["group"] as? String ?? ""] == method.group)
            #expect(Int(method.quickModeLimit) == expected["qmlimit"] as? Int)
            #expect(Int(method.lifetimeKilobytes) == expected["kb"] as? Int)
            #expect(Int(method.lifetimeSeconds) == expected["secs"] as? Int)
        }
    }

    private func checkOffers(_ data: NegotiationPolicyData, _ fields: [String: Any]) throws {
        let offers = try #require(fields["offers"] as? [[String: Any]])
        #expect(data.offers.count == offers.count)
        #expect(!data.allowFallbackToClear)
        for (offer, expected) in zip(data.offers, offers) {
            #expect(Int(offer.lifetimeSeconds) == expected["secs"] as? Int)
            #expect(Int(offer.lifetimeKilobytes) == expected["kb"] as? Int)
            #expect(offer.perfectForwardSecrecy == ((expected["pfs"] as? Int) != 0))
            let algorithms = try #require(expected["algs"] as? [[Int]])
            #expect(offer.transforms.map(Self.triple) == algorithms)
        }
    }

    /// A transform as the vectors list it: [algorithm id, ESP integrity, type].
    static func triple(_ transform: Transform) -> [Int] {
        switch transform {
        case .ah(let hash): [hash == .md5 ? 1 : 2, 0, 1]
        case .esp(let encryption, let integrity):
            [
                encryption == .none ? 0 : encryption == .des ? 1 : 3,
                integrity.map { $0 == .md5 ? 1 : 2 } ?? 0, 2,
            ]
        }
    }

    private func checkNFA(_ data: NFAData, _ fields: [String: Any]) throws {
        let auths = try #require(fields["auths"] as? [[Any]])
        #expect(data.authenticationMethods.count == auths.count)
        for (method, expected) in zip(data.authenticationMethods, auths) {
            switch method {
            case .kerberos: #expect(expected.first as? Int == 5)
            case .preSharedKey(let key): #expect(expected.first as? Int == 1 && expected.last as? String == key)
            case .certificate(let ca): #expect(expected.first as? Int == 3 && expected.last as? String == ca.name)
            }
        }
        #expect("0x" + String(data.interfaceType.windowsValue, radix: 16) == fields["iftype"] as? String)
        #expect(data.interfaceName == fields["ifname"] as? String)
        #expect((data.tunnelEndpoint ?? .any).description == fields["tunnel"] as? String)
        #expect((data.tunnelEndpoint != nil ? 1 : 0) == fields["is_tunnel"] as? Int)
        #expect((data.isActive ? 1 : 0) == fields["is_active"] as? Int)
        #expect(data.tunnelEndpointName == fields["tep"] as? String)
    }

    private func checkFilters(_ filters: [Filter], _ fields: [String: Any]) throws {
        let expected = try #require(fields["filters"] as? [[String: Any]])
        #expect(filters.count == expected.count)
        for (filter, fields) in zip(filters, expected) {
            #expect(filter.id.plain == fields["id"] as? String)
            #expect(filter.description == fields["desc"] as? String)
            #expect(filter.mirrored == ((fields["mirror"] as? Int) != 0))
            #expect(Self.side(filter.source) == fields["src"] as? String)
            #expect(Self.side(filter.destination) == fields["dst"] as? String)
            #expect(Int(filter.ipProtocol) == fields["proto"] as? Int)
            #expect(Int(filter.sourcePort) == fields["sport"] as? Int)
            #expect(Int(filter.destinationPort) == fields["dport"] as? Int)
            #expect(fields["special"] as? String == "0x0")
            #expect(fields["src_dns"] as? String == "" && fields["dst_dns"] as? String == "")
        }
    }

    /// A side as the vectors list it: `address/mask`.
    static func side(_ address: FilterAddress) -> String {
        switch address {
        case .any: "0.0.0.0/0.0.0.0"
        case .me: "0.0.0.0/255.255.255.255"
        case .host(let host): "\(host)/255.255.255.255"
        case .subnet(let host, let mask): "\(host)/\(mask)"
        case .dnsName(_, let host): "\(host)/255.255.255.255"
        case .server: "server"
        }
    }
}
