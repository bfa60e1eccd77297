import PolicyFormats
import Testing

@Suite struct LDIFTests {
    @Test func readsFoldedBase64AndCommentedEntries() throws {
        let text = """
            version: 1
            # a comment that is
             folded
            dn: CN=ipsecPolicy{72385230-70fa-11d1-864c-14a300000000},CN=IP Security,CN=Sys
             tem,DC=example,DC=com
            objectClass: top
            objectClass: ipsecPolicy
            ipsecName: Server (Request Security)
            ipsecData:: YyEgIkxP0RGGOwCgJI0wIQQAAAAwKgAAAA==

            dn: CN=x,DC=example,DC=com
            changetype: add
            description:: w6l0w6k=

            """
        let entries = try LDIF.entries(Array(text.utf8), file: "t.ldif")
        #expect(entries.count == 2)
        let policy = try #require(entries.first)
        #expect(
            policy.dn
                == "CN=ipsecPolicy{72385230-70fa-11d1-864c-14a300000000},CN=IP Security,CN=System,DC=example,DC=com"
        )
        #expect(policy.line == 4)
        #expect(policy.objectClasses == ["top", "ipsecpolicy"])
        #expect(policy.string("IPSECNAME") == "Server (Request Security)")
        #expect(policy.values("ipsecData").first?.bytes.count == 25)
        #expect(policy.attribute("ipsecData")?.line == 9)
        #expect(entries[1].string("description") == "été")
    }

    @Test func acceptsCRLFAndUTF16AndLdapsearchTrailer() throws {
        let text = "dn: DC=example,DC=com\r\ngPOptions: 1\r\n\r\n# search result\r\nsearch: 2\r\nresult: 0 Success\r\n"
        #expect(try LDIF.entries(Array(text.utf8), file: "a.ldif").count == 1)
        let utf16: [UInt8] =
            [0xFF, 0xFE] + text.utf16.flatMap { unit -> [UInt8] in [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        let entries = try LDIF.entries(utf16, file: "u.ldif")
        #expect(entries.first?.string("gPOptions") == "1")
    }

    @Test(arguments: [
        ("dn: DC=a\nx:: ab!c\n", 2, "base64"),
        ("dn: DC=a\nx:< file:///etc/passwd\n", 2, "URL"),
        ("dn: DC=a\nchangetype: modify\n", 2, "change records"),
        ("objectClass: top\n", 1, "must start with 'dn:'"),
        (" continued\n", 1, "continuation"),
        ("dn: DC=a\nnocolon\n", 2, "no ':'"),
        ("version: 2\n", 1, "version"),
    ])
    func rejectsBadInput(text: String, line: Int, fragment: String) {
        #expect {
            _ = try LDIF.entries(Array(text.utf8), file: "bad.ldif")
        } throws: { error in
            let error = error as? PolicyFormatError
            return error?.line == line && error?.message.contains(fragment) == true && error?.file == "bad.ldif"
        }
    }

    @Test func rejectsUnfoldedOverlongLine() {
        let text = "dn: DC=a\ndescription: " + String(repeating: "x", count: LDIF.maximumLineLength) + "\n"
        #expect(throws: PolicyFormatError.self) { _ = try LDIF.entries(Array(text.utf8), file: "long.ldif") }
    }

    @Test func writesWhatItReads() throws {
        var entry = DirectoryEntry(dn: "CN=ipsecNFA{59319be2-5ee3-11d2-ace8-0060b0ecca17},CN=IP Security,DC=example")
        entry.append("objectClass", .text("ipsecNFA"))
        entry.append("ipsecData", .binary(Array(0...255)))
        entry.append("description", .text(" leading space"))
        entry.append("ipsecName", .text(String(repeating: "long name ", count: 20)))
        let written = LDIF.write([entry])
        let text = String(decoding: written, as: UTF8.self)
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 76 })
        let read = try LDIF.entries(written, file: "rt.ldif")
        #expect(read.count == 1)
        #expect(read[0].dn == entry.dn)
        #expect(read[0].values("ipsecData") == [.binary(Array(0...255))])
        #expect(read[0].string("description") == " leading space")
        #expect(read[0].string("ipsecName") == entry.string("ipsecName"))
    }
}
