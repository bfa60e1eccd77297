import IPsecTestKit
import Netsh
import PolicyFormats
import PolicyModel
import Testing

@Suite struct NetshTokenizerTests {
    @Test func splitsTagsValuesAndQuotes() throws {
        let tokens = try NetshTokenizer.tokenize(#"add policy name="Web Servers" description=x assign=yes"#)
        #expect(tokens.map(\.description) == ["add", "policy", "name=Web Servers", "description=x", "assign=yes"])
    }

    @Test func parenthesesKeepListsTogether() throws {
        let tokens = try NetshTokenizer.tokenize("add policy P mmsecmethods=(3DES-SHA1-2 DES-MD5-1) (a b)")
        #expect(tokens[3] == NetshToken(tag: "mmsecmethods", value: "3DES-SHA1-2 DES-MD5-1"))
        #expect(tokens[4] == NetshToken(value: "a b"))
    }

    @Test func quotedValuesMayContainEqualsAndBrackets() throws {
        let tokens = try NetshTokenizer.tokenize(#"x qmsecmethods="ESP[3DES,SHA1]:100000k/3600s AH[MD5]" "a=b" d="""#)
        #expect(tokens[1].value == "ESP[3DES,SHA1]:100000k/3600s AH[MD5]")
        #expect(tokens[2] == NetshToken(value: "a=b"))
        #expect(tokens[3] == NetshToken(tag: "d", value: ""))
    }

    @Test func unterminatedQuoteIsAnError() {
        #expect(throws: NetshError.self) { try NetshTokenizer.tokenize(#"add policy name="open"#) }
        #expect(throws: NetshError.self) { try NetshTokenizer.tokenize("add policy mmsec=(3DES-SHA1-2") }
    }
}

@Suite struct NetshArgumentTests {
    static let parameters = [
        NetshParameter("name", "<string>", ""),
        NetshParameter("qmsecmethods", "", ""),
        NetshParameter("qmpfs", "", ""),
        NetshParameter("all", "", "", flag: true),
        NetshParameter("rootca", "", "", repeatable: true),
    ]

    @Test func tagsAreCaseInsensitiveAndAbbreviable() throws {
        let arguments = try NetshArguments.bind(
            [NetshToken(tag: "NAME", value: "a"), NetshToken(tag: "qmsec", value: "AH[MD5]")],
            to: Self.parameters,
            command: "x"
        )
        #expect(arguments.string("name") == "a")
        #expect(arguments.string("qmsecmethods") == "AH[MD5]")
    }

    @Test func ambiguousAndUnknownTagsAreErrorsThatNameThem() {
        #expect(throws: NetshError.self) {
            try NetshArguments.bind([NetshToken(tag: "qm", value: "x")], to: Self.parameters, command: "x")
        }
        do {
            _ = try NetshArguments.bind([NetshToken(tag: "colour", value: "x")], to: Self.parameters, command: "add x")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("'colour'"))
            #expect(error.message.contains("Valid parameters: name, qmsecmethods"))
        }
    }

    @Test func positionalValuesFillParametersInOrder() throws {
        let arguments = try NetshArguments.bind(
            [NetshToken(value: "first"), NetshToken(value: "ESP[DES,MD5]"), NetshToken(value: "all")],
            to: Self.parameters,
            command: "x"
        )
        #expect(arguments.string("name") == "first")
        #expect(arguments.string("qmsecmethods") == "ESP[DES,MD5]")
        #expect(arguments.has("all"))
    }

    @Test func repeatsOnlyWhereAllowed() throws {
        let arguments = try NetshArguments.bind(
            [NetshToken(tag: "rootca", value: "A"), NetshToken(tag: "rootca", value: "B")],
            to: Self.parameters,
            command: "x"
        )
        #expect(arguments.all("rootca") == ["A", "B"])
        #expect(throws: NetshError.self) {
            try NetshArguments.bind(
                [NetshToken(tag: "name", value: "A"), NetshToken(tag: "name", value: "B")],
                to: Self.parameters,
                command: "x"
            )
        }
    }

    @Test func yesNoAcceptsNetshAbbreviations() throws {
        let arguments = try NetshArguments.bind(
            [NetshToken(tag: "qmpfs", value: "Y")],
            to: Self.parameters,
            command: "x"
        )
        #expect(try arguments.bool("qmpfs") == true)
        let bad = try NetshArguments.bind([NetshToken(tag: "qmpfs", value: "maybe")], to: Self.parameters, command: "x")
        #expect(throws: NetshError.invalidValueForTest("qmpfs", "maybe", "yes, no")) { try bad.bool("qmpfs") }
    }
}

extension NetshError {
    static func invalidValueForTest(_ tag: String, _ value: String, _ accepted: String) -> NetshError {
        NetshError("The value \"\(value)\" is not valid for parameter '\(tag)'. Accepted values: \(accepted).")
    }
}

@Suite struct NetshValueParserTests {
    @Test func mainModeMethods() throws {
        let methods = try NetshSecurityMethods.parseMainMode("3DES-SHA1-2 des-md5-1 3DES-SHA1-3 3DES-MD5")
        #expect(methods.map(\.encryption) == [.tripleDES, .des, .tripleDES, .tripleDES])
        #expect(methods.map(\.hash) == [.sha1, .md5, .sha1, .md5])
        #expect(methods.map(\.group) == [.group2, .group1, .group2048, .group2])
        #expect(NetshSecurityMethods.format(methods) == "3DES-SHA1-2 DES-MD5-1 3DES-SHA1-3 3DES-MD5-2")
        for bad in ["AES-SHA1-2", "3DES-SHA256-2", "3DES-SHA1-4", ""] {
            #expect(throws: NetshError.self) { try NetshSecurityMethods.parseMainMode(bad) }
        }
    }

    @Test func quickModeOffers() throws {
        let offers = try NetshSecurityMethods.parseQuickMode(
            "ESP[3DES,SHA1]:100000k/3600s AH[MD5] AH[SHA1]+ESP[DES,None]:900s ESP[None,MD5]",
            pfs: true
        )
        #expect(offers.count == 4)
        #expect(offers[0].transforms == [.esp(encryption: .tripleDES, integrity: .sha1)])
        #expect(offers[0].lifetimeKilobytes == 100_000 && offers[0].lifetimeSeconds == 3600)
        #expect(offers[1].transforms == [.ah(.md5)])
        #expect(offers[2].transforms == [.ah(.sha1), .esp(encryption: .des, integrity: nil)])
        #expect(offers[2].lifetimeSeconds == 900 && offers[2].lifetimeKilobytes == 0)
        #expect(offers[3].transforms == [.esp(encryption: .none, integrity: .md5)])
        #expect(offers.allSatisfy { $0.perfectForwardSecrecy })
        #expect(
            NetshSecurityMethods.format(offers)
                == "ESP[3DES,SHA1]:100000k/3600s AH[MD5] AH[SHA1]+ESP[DES,None]:0k/900s ESP[None,MD5]"
        )
        for bad in ["ESP[None,None]", "ESP[AES,SHA1]", "AH[3DES]", "ESP[3DES]", "ESP[3DES,SHA1]:12x", "XYZ[MD5]"] {
            #expect(throws: NetshError.self) { try NetshSecurityMethods.parseQuickMode(bad) }
        }
    }

    @Test func rootCA() throws {
        let ca = try NetshSecurityMethods.parseRootCA(
            #"CN=Example Root CA, O=\'Example\' certmap:yes excludecaname:no"#
        )
        #expect(ca.name == #"CN=Example Root CA, O="Example""#)
        #expect(ca.certificateToAccountMapping && !ca.excludeCAName)
        #expect(NetshSecurityMethods.format(ca) == #"CN=Example Root CA, O=\'Example\' certmap:yes excludecaname:no"#)
        let plain = try NetshSecurityMethods.parseRootCA("CN=Root")
        #expect(plain == CertificateAuthority(name: "CN=Root"))
        #expect(throws: NetshError.self) { try NetshSecurityMethods.parseRootCA("CN=Root certmap:perhaps") }
        #expect(throws: NetshError.self) { try NetshSecurityMethods.parseRootCA("certmap:yes") }
    }

    @Test func addressesMasksProtocolsPorts() throws {
        #expect(try NetshAddressing.parseAddress("ME", tag: "srcaddr") == .me)
        #expect(try NetshAddressing.parseAddress("any", tag: "srcaddr") == .any)
        #expect(try NetshAddressing.parseAddress("198.18.0.1", tag: "srcaddr") == .ip(IPv4Address(198, 18, 0, 1)))
        #expect(try NetshAddressing.parseAddress("dhcp", tag: "srcaddr") == .server(.dhcp))
        #expect(try NetshAddressing.parseAddress("host.example.test", tag: "srcaddr") == .dnsName("host.example.test"))
        for bad in ["198.18.0.1-198.18.0.9", "fe80::1", "198.18.0.300!", "-bad"] {
            #expect(throws: NetshError.self) { try NetshAddressing.parseAddress(bad, tag: "srcaddr") }
        }
        #expect(try NetshAddressing.parseMask("24", tag: "srcmask") == IPv4Address(255, 255, 255, 0))
        #expect(try NetshAddressing.parseMask("255.255.0.0", tag: "srcmask") == IPv4Address(255, 255, 0, 0))
        #expect(throws: NetshError.self) { try NetshAddressing.parseMask("255.0.255.0", tag: "srcmask") }
        #expect(throws: NetshError.self) { try NetshAddressing.parseMask("33", tag: "srcmask") }
        #expect(try NetshAddressing.parseProtocol("tcp") == 6)
        #expect(try NetshAddressing.parseProtocol("RAW") == 255)
        #expect(try NetshAddressing.parseProtocol("47") == 47)
        #expect(throws: NetshError.self) { try NetshAddressing.parseProtocol("256") }
        #expect(try NetshAddressing.parsePort("3389", tag: "dstport") == 3389)
        #expect(throws: NetshError.self) { try NetshAddressing.parsePort("70000", tag: "dstport") }
        #expect(throws: NetshError.self) { try NetshAddressing.checkPorts(protocol: 1, source: 0, destination: 80) }
    }
}
