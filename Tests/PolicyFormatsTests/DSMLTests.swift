import PolicyFormats
import Testing

@Suite struct DSMLTests {
    static let document = """
        <?xml version="1.0" encoding="UTF-8"?>
        <batchResponse xmlns="urn:oasis:names:tc:DSML:2:0:core"
            xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
          <searchResponse>
            <searchResultEntry dn="CN=ipsecPolicy{72385230-70fa-11d1-864c-14a300000000},CN=IP Security,CN=System,DC=example,DC=com">
              <attr name="objectClass"><value>top</value><value>ipsecPolicy</value></attr>
              <attr name="ipsecData"><value xsi:type="xsd:base64Binary">YyEgIkxP0RGGOwCgJI0wIQQAAAAwKgAAAA==</value></attr>
            </searchResultEntry>
            <searchResultDone><resultCode code="0"/></searchResultDone>
          </searchResponse>
        </batchResponse>
        """

    @Test func readsBatchResponse() throws {
        let entries = try DSML.entries(Array(Self.document.utf8), file: "d.xml")
        #expect(entries.count == 1)
        #expect(entries[0].line == 5)
        #expect(entries[0].objectClasses == ["top", "ipsecpolicy"])
        #expect(entries[0].values("ipsecData").first?.bytes.count == 25)
    }

    @Test func readsBareListOfEntries() throws {
        let text = """
            <searchResponse xmlns="urn:oasis:names:tc:DSML:2:0:core">
              <searchResultEntry dn="DC=example,DC=com"><attr name="gPOptions"><value>1</value></attr></searchResultEntry>
              <searchResultEntry dn="OU=x,DC=example,DC=com"><attr name="gPOptions"><value>0</value></attr></searchResultEntry>
            </searchResponse>
            """
        let entries = try DSML.entries(Array(text.utf8), file: "bare.dsml")
        #expect(entries.map(\.dn) == ["DC=example,DC=com", "OU=x,DC=example,DC=com"])
    }

    @Test func roundTripsThroughWriter() throws {
        var entry = DirectoryEntry(dn: "CN=a&b,DC=example")
        entry.append("ipsecData", .binary([0, 1, 2, 255]))
        entry.append("ipsecName", .text("<Dynamic> & \"quoted\""))
        let read = try DSML.entries(DSML.write([entry]), file: "w.dsml")
        #expect(read.map(\.dn) == [entry.dn])
        #expect(read[0].values("ipsecData") == [.binary([0, 1, 2, 255])])
        #expect(read[0].string("ipsecName") == "<Dynamic> & \"quoted\"")
    }

    @Test(arguments: [
        ("<batchResponse xmlns=\"urn:example:wrong\"/>", "namespace"),
        ("<dsml xmlns=\"http://www.dsml.org/DSML\"/>", "DSMLv1"),
        ("<batchResponse xmlns=\"urn:oasis:names:tc:DSML:2:0:core\"><searchResponse>", "well-formed"),
        (
            "<searchResponse xmlns=\"urn:oasis:names:tc:DSML:2:0:core\"><searchResultDone><resultCode code=\"4\"/></searchResultDone></searchResponse>",
            "incomplete"
        ),
        (
            "<searchResponse xmlns=\"urn:oasis:names:tc:DSML:2:0:core\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><searchResultEntry dn=\"DC=a\"><attr name=\"ipsecData\"><value xsi:type=\"xsd:base64Binary\">%%%%</value></attr></searchResultEntry></searchResponse>",
            "base64"
        ),
        ("<!DOCTYPE x [<!ENTITY a \"b\">]><searchResponse xmlns=\"urn:oasis:names:tc:DSML:2:0:core\"/>", "DTD"),
    ])
    func rejectsBadInput(text: String, fragment: String) {
        #expect {
            _ = try DSML.entries(Array(text.utf8), file: "bad.dsml")
        } throws: { error in
            let error = error as? PolicyFormatError
            return error?.line != nil && error?.message.contains(fragment) == true
        }
    }
}
