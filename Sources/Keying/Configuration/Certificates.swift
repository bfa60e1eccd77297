import FoundationEssentials
import IPsecSystem

/// A distinguished name as a set of attribute/value pairs, compared the way an administrator means
/// it: attribute names by their usual short form, values without case, order ignored (Windows shows
/// CA names as `CN=…, O=…`, certificates store them the other way round).
public struct DistinguishedName: Hashable, Sendable, CustomStringConvertible {
    public struct Attribute: Hashable, Sendable {
        public var type: String
        public var value: String
    }

    /// In the order written or stored.
    public var attributes: [Attribute]

    public init(attributes: [Attribute]) { self.attributes = attributes }

    /// Parses `CN=Example Root CA, O=Example` (commas or semicolons between attributes, `\,` and
    /// double quotes protect a comma inside a value); `nil` when a part has no `=`.
    public init?(parsing text: String) {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if (character == "," || character == ";") && !quoted {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        var attributes: [Attribute] = []
        for part in parts {
            let trimmed = part.trimmedOfSpaces
            if trimmed.isEmpty { continue }
            guard let equals = trimmed.firstIndex(of: "=") else { return nil }
            let type = trimmed[..<equals].trimmedOfSpaces
            let value = trimmed[trimmed.index(after: equals)...].trimmedOfSpaces
            guard !type.isEmpty else { return nil }
            attributes.append(Attribute(type: Self.shortName(type), value: value))
        }
        guard !attributes.isEmpty else { return nil }
        self.attributes = attributes
    }

    /// Whether both name the same entity (same attributes, any order, values without case).
    public func matches(_ other: DistinguishedName) -> Bool {
        func key(_ name: DistinguishedName) -> [String] {
            name.attributes.map { "\($0.type)=\($0.value.lowercased())" }.sorted()
        }
        return key(self) == key(other)
    }

    public var description: String { attributes.map { "\($0.type)=\($0.value)" }.joined(separator: ", ") }

    /// The conventional short name of an attribute type (`commonName` → `CN`, `S` → `ST`).
    static func shortName(_ type: String) -> String {
        switch type.uppercased() {
        case "COMMONNAME": "CN"
        case "ORGANIZATIONNAME": "O"
        case "ORGANIZATIONALUNITNAME": "OU"
        case "COUNTRYNAME": "C"
        case "LOCALITYNAME", "LOCALITY": "L"
        case "S", "STATEORPROVINCENAME": "ST"
        case "EMAIL", "EMAILADDRESS": "E"
        case "DOMAINCOMPONENT": "DC"
        default: type.uppercased()
        }
    }

    /// Short names of the attribute OIDs found in certificate subjects.
    static let oidNames: [String: String] = [
        "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
        "2.5.4.5": "SERIALNUMBER", "2.5.4.12": "T", "1.2.840.113549.1.9.1": "E",
        "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
    ]
}

/// An X.509 certificate file: its DER bytes and the two names ipsecsvc matches on.
public struct CertificateFile: Hashable, Sendable {
    public var path: String
    /// The certificate as DER (PEM files are decoded).
    public var der: [UInt8]
    public var subject: DistinguishedName
    public var issuer: DistinguishedName

    /// Reads the subject and issuer out of a DER certificate; `nil` when it is not one.
    public init?(path: String, der: [UInt8]) {
        guard let names = X509Names.read(der) else { return nil }
        self.path = path
        self.der = der
        self.subject = names.subject
        self.issuer = names.issuer
    }
}

/// A private key file, passed to charon as it is (charon parses PEM and DER itself).
public struct PrivateKeyFile: Hashable, Sendable {
    public var path: String
    public var data: [UInt8]

    public init(path: String, data: [UInt8]) {
        self.path = path
        self.data = data
    }
}

/// The CA certificates and this host's certificates and keys, read from `ike_ca_dir` and
/// `ike_cert_dir`.
public struct Credentials: Hashable, Sendable {
    public var authorities: [CertificateFile]
    public var hostCertificates: [CertificateFile]
    public var privateKeys: [PrivateKeyFile]
    /// Files that were skipped, with the reason (shown by `status`).
    public var problems: [String]

    public init(
        authorities: [CertificateFile] = [],
        hostCertificates: [CertificateFile] = [],
        privateKeys: [PrivateKeyFile] = [],
        problems: [String] = []
    ) {
        self.authorities = authorities
        self.hostCertificates = hostCertificates
        self.privateKeys = privateKeys
        self.problems = problems
    }

    public static let none = Credentials()

    /// The CA certificate whose subject is `name`.
    public func authority(named name: DistinguishedName) -> CertificateFile? {
        authorities.first { $0.subject.matches(name) }
    }

    /// The host certificate to present under `authority`: one it issued, else the first one.
    public func hostCertificate(issuedBy authority: CertificateFile) -> CertificateFile? {
        hostCertificates.first { $0.issuer.matches(authority.subject) } ?? hostCertificates.first
    }

    /// Reads both directories (`nil`: not configured). Files larger than 1 MiB, unreadable files and
    /// files that are neither a certificate nor a key are skipped and listed in ``problems``.
    public static func load(caDirectory: String?, certificateDirectory: String?) -> Credentials {
        var result = Credentials()
        for (path, bytes) in readDirectory(caDirectory, problems: &result.problems) {
            for der in certificateBlocks(bytes) {
                if let certificate = CertificateFile(path: path, der: der) {
                    result.authorities.append(certificate)
                } else {
                    result.problems.append("\(path): not an X.509 certificate")
                }
            }
        }
        for (path, bytes) in readDirectory(certificateDirectory, problems: &result.problems) {
            let text = String(decoding: bytes, as: UTF8.self)
            if text.contains("PRIVATE KEY-----") {
                result.privateKeys.append(PrivateKeyFile(path: path, data: bytes))
                continue
            }
            let blocks = certificateBlocks(bytes)
            let certificates = blocks.compactMap { CertificateFile(path: path, der: $0) }
            if certificates.isEmpty {
                // DER without a header: a key when it is not a certificate.
                result.privateKeys.append(PrivateKeyFile(path: path, data: bytes))
            } else {
                result.hostCertificates += certificates
            }
        }
        return result
    }

    static func readDirectory(_ directory: String?, problems: inout [String]) -> [(String, [UInt8])] {
        guard let directory else { return [] }
        let names: [String]
        do {
            names = try FileSystem.entries(of: directory)
        } catch {
            problems.append("\(error)")
            return []
        }
        var files: [(String, [UInt8])] = []
        for name in names where !name.hasPrefix(".") {
            let path = directory + "/" + name
            guard !FileSystem.isDirectory(path) else { continue }
            do {
                files.append((path, try FileSystem.read(path, limit: 1 << 20, accept: .regularFiles)))
            } catch {
                problems.append("\(error)")
            }
        }
        return files
    }

    /// The DER certificates of a file: every PEM `CERTIFICATE` block, or the file itself.
    static func certificateBlocks(_ bytes: [UInt8]) -> [[UInt8]] {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("-----BEGIN CERTIFICATE-----") else { return [bytes] }
        var blocks: [[UInt8]] = []
        var body: String?
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmedOfSpaces
            if trimmed == "-----BEGIN CERTIFICATE-----" {
                body = ""
            } else if trimmed == "-----END CERTIFICATE-----" {
                if let encoded = body, let data = Data(base64Encoded: encoded) { blocks.append([UInt8](data)) }
                body = nil
            } else if body != nil {
                body! += trimmed
            }
        }
        return blocks
    }
}

/// Just enough DER to find a certificate's issuer and subject names.
enum X509Names {
    struct Element {
        var tag: UInt8
        var content: Range<Int>
        var end: Int
    }

    static func read(_ der: [UInt8]) -> (issuer: DistinguishedName, subject: DistinguishedName)? {
        guard let certificate = element(der, at: 0), certificate.tag == 0x30,
            let tbs = element(der, at: certificate.content.lowerBound), tbs.tag == 0x30
        else { return nil }
        var fields: [Element] = []
        var offset = tbs.content.lowerBound
        while offset < tbs.content.upperBound, fields.count < 6, let field = element(der, at: offset) {
            fields.append(field)
            offset = field.end
        }
        // version [0] is optional: serial, signature, issuer, validity, subject follow it.
        let start = fields.first?.tag == 0xA0 ? 1 : 0
        guard fields.count >= start + 5, let issuer = name(der, fields[start + 2]),
            let subject = name(der, fields[start + 4])
        else { return nil }
        return (issuer, subject)
    }

    static func name(_ der: [UInt8], _ sequence: Element) -> DistinguishedName? {
        guard sequence.tag == 0x30 else { return nil }
        var attributes: [DistinguishedName.Attribute] = []
        var offset = sequence.content.lowerBound
        while offset < sequence.content.upperBound {
            guard let set = element(der, at: offset), set.tag == 0x31 else { return nil }
            var inner = set.content.lowerBound
            while inner < set.content.upperBound {
                guard let pair = element(der, at: inner), pair.tag == 0x30,
                    let oid = element(der, at: pair.content.lowerBound), oid.tag == 0x06,
                    let value = element(der, at: oid.end)
                else { return nil }
                let dotted = objectIdentifier(Array(der[oid.content]))
                let type = DistinguishedName.oidNames[dotted] ?? dotted
                let bytes = Array(der[value.content])
                let text: String =
                    value.tag == 0x1E
                    ? String(
                        decoding: stride(from: 0, to: bytes.count - 1, by: 2).map {
                            UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])
                        },
                        as: UTF16.self
                    )
                    : String(decoding: bytes, as: UTF8.self)
                attributes.append(.init(type: type, value: text))
                inner = pair.end
            }
            offset = set.end
        }
        return DistinguishedName(attributes: attributes)
    }

    static func element(_ der: [UInt8], at offset: Int) -> Element? {
        guard offset + 2 <= der.count else { return nil }
        let tag = der[offset]
        var length = Int(der[offset + 1])
        var header = 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, offset + 2 + count <= der.count else { return nil }
            length = 0
            for index in 0..<count { length = length << 8 | Int(der[offset + 2 + index]) }
            header += count
        }
        let start = offset + header
        guard length >= 0, start + length <= der.count else { return nil }
        return Element(tag: tag, content: start..<(start + length), end: start + length)
    }

    static func objectIdentifier(_ bytes: [UInt8]) -> String {
        guard let first = bytes.first else { return "" }
        var parts = first >= 80 ? ["2", String(first - 80)] : [String(first / 40), String(first % 40)]
        var value = 0
        for byte in bytes.dropFirst() {
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 == 0 {
                parts.append(String(value))
                value = 0
            }
        }
        return parts.joined(separator: ".")
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmedOfSpaces: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text = text.dropLast() }
        return String(text)
    }
}
