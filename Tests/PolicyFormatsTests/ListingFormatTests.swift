import PolicyFormats
import PolicyModel
import Testing

@Suite struct ListingFormatTests {
    @Test func durationsInNetshMinutes() {
        #expect(ListingFormat.minutes(seconds: 28_800, defaultSeconds: 28_800) == "480 minutes")
        #expect(ListingFormat.minutes(seconds: 0, defaultSeconds: 10_800) == "180 minutes (default)")
        #expect(ListingFormat.minutes(seconds: 90, defaultSeconds: 10_800) == "90 seconds")
    }

    @Test func securityMethodsInNetshSyntax() {
        let method = MainModeSecurityMethod(encryption: .tripleDES, hash: .sha1, group: .group2048)
        #expect(ListingFormat.mainModeMethod(method) == "3DES-SHA1-3")
        #expect(
            ListingFormat.offer(SecurityOffer(transforms: [.esp(encryption: .none, integrity: .md5)]))
                == "ESP[None,MD5]"
        )
        let bundle = SecurityOffer(
            transforms: [.ah(.sha1), .esp(encryption: .tripleDES, integrity: nil)],
            lifetimeSeconds: 900
        )
        #expect(ListingFormat.offer(bundle) == "AH[SHA1]+ESP[3DES,None]:0k/900s")
    }

    @Test func addressesAndMasks() {
        let subnet = FilterAddress.subnet(IPv4Address(198, 18, 0, 0), mask: IPv4Address(255, 254, 0, 0))
        #expect(ListingFormat.address(subnet) == "198.18.0.0")
        #expect(ListingFormat.mask(subnet) == "255.254.0.0")
        #expect(ListingFormat.address(.any) == "<Any IP Address>")
        #expect(ListingFormat.mask(.any) == "0.0.0.0")
        #expect(ListingFormat.mask(.me) == "255.255.255.255")
        #expect(ListingFormat.address(.server(.gateway)) == "<GATEWAY Servers>")
        #expect(
            ListingFormat.address(.dnsName("gw.example", address: IPv4Address(198, 18, 0, 1)))
                == "gw.example (198.18.0.1)"
        )
    }

    @Test func protocolsPortsAndFlags() {
        #expect(ListingFormat.ipProtocol(0) == "ANY")
        #expect(ListingFormat.ipProtocol(47) == "47")
        #expect(ListingFormat.port(0) == "ANY")
        #expect(ListingFormat.port(500) == "500")
        #expect(ListingFormat.yesNo(true) == "YES")
        #expect(ListingFormat.connectionType(.dialUp) == "DIALUP")
        #expect(ListingFormat.action(.negotiate) == "NEGOTIATE SECURITY")
        #expect(ListingFormat.authentication(.kerberos) == "Kerberos")
    }

    @Test func fieldsAlignTheirColons() {
        #expect(ListingFormat.field("Mirrored", "YES") == "Mirrored                    : YES")
        #expect(ListingFormat.field("Mirrored", "YES", indent: 4) == "    Mirrored                : YES")
        #expect(ListingFormat.field("Description", "") == "Description                 :")
        let long = String(repeating: "x", count: 40)
        #expect(ListingFormat.field(long, "v") == long + " : v")
    }
}
