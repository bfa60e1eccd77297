import IPsecTestKit
import PolicyFormats
import PolicyModel
import Testing

/// `<include>`: expansion in place, in document order, through long chains, and cycles of any length.
@Suite struct NativeXMLIncludeTests {
    /// Lists 0…count-1; list i includes the lists `includes(i)`, and list 0 holds one filter.
    static func document(count: Int, includes: (Int) -> [Int]) -> [UInt8] {
        var lines = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<policyStore xmlns=\"urn:ipsecsvc:policy:1\" version=\"1\">",
        ]
        for index in 0..<count {
            lines.append("  <filterList id=\"\(NativeXMLFixtures.guid(index + 1).braced)\" name=\"L\(index)\">")
            if index == 0 {
                lines.append(
                    "    <filter id=\"\(NativeXMLFixtures.guid(900_000).braced)\" mirrored=\"true\" protocol=\"tcp\">"
                )
                lines.append("      <source><me/></source>")
                lines.append("      <destination><any/></destination>")
                lines.append("    </filter>")
            }
            for target in includes(index) {
                lines.append("    <include filterList=\"\(NativeXMLFixtures.guid(target + 1).braced)\"/>")
            }
            lines.append("  </filterList>")
        }
        lines.append("</policyStore>")
        return Array(lines.joined(separator: "\n").utf8)
    }

    @Test func includedFiltersTakeThePlaceOfTheElement() throws {
        let text = """
            <?xml version="1.0" encoding="UTF-8"?>
            <policyStore xmlns="urn:ipsecsvc:policy:1" version="1">
              <filterList id="{00000000-0000-4000-8000-000000000001}" name="Outer">
                <filter id="{00000000-0000-4000-8000-0000000000a1}" mirrored="true" protocol="tcp" destinationPort="1">
                  <source><me/></source>
                  <destination><any/></destination>
                </filter>
                <include filterList="{00000000-0000-4000-8000-000000000002}"/>
                <filter id="{00000000-0000-4000-8000-0000000000a3}" mirrored="true" protocol="tcp" destinationPort="3">
                  <source><me/></source>
                  <destination><any/></destination>
                </filter>
              </filterList>
              <filterList id="{00000000-0000-4000-8000-000000000002}" name="Inner">
                <filter id="{00000000-0000-4000-8000-0000000000a2}" mirrored="true" protocol="tcp" destinationPort="2">
                  <source><me/></source>
                  <destination><any/></destination>
                </filter>
              </filterList>
            </policyStore>

            """
        let store = try NativePolicyXML.read(Array(text.utf8), file: "include.xml")
        #expect(store.filterLists[0].filters.map(\.destinationPort) == [1, 2, 3])
        #expect(store.filterLists[1].filters.map(\.destinationPort) == [2])
        // Written back flat: the include is expanded for good.
        let again = try NativePolicyXML.read(NativePolicyXML.write(store), file: "flat.xml")
        #expect(again == store)
        #expect(!NativePolicyXML.write(store).text.contains("<include"))
    }

    @Test func longChainsNeedNoRecursion() async throws {
        let count = 10_000
        let store = try await offThePool {
            try NativePolicyXML.read(Self.document(count: count) { $0 == 0 ? [] : [$0 - 1] }, file: "chain.xml")
        }
        #expect(store.filterLists.count == count)
        #expect(store.filterLists.last?.filters.count == 1)
    }

    @Test func longCyclesAreReportedOnOneShortLine() throws {
        let bytes = Self.document(count: 40) { [($0 + 1) % 40] }
        let error = try #require(throws: PolicyFormatError.self) { try NativePolicyXML.read(bytes, file: "ring.xml") }
        #expect(error.message.hasPrefix("reference cycle: \"L0\" → \"L1\""))
        #expect(error.message.hasSuffix("\"L39\" → \"L0\""))
        #expect(error.message.contains("… 31 more …"))
    }
}
