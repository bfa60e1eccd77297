import Foundation
import PolicyFormats
import PolicyModel
import Testing

@Suite struct NativeXMLRoundTripTests {
    @Test func everyFieldSurvivesWriteThenRead() throws {
        let written = NativePolicyXML.write(NativeXMLFixtures.everyField)
        let read = try NativePolicyXML.read(written, file: "every-field.xml")
        #expect(read == NativeXMLFixtures.everyField)
        #expect(NativePolicyXML.write(read) == written)
    }

    @Test func writerIsDeterministic() {
        let first = NativePolicyXML.write(NativeXMLFixtures.everyField)
        let second = NativePolicyXML.write(NativeXMLFixtures.everyField)
        #expect(first == second)
    }

    @Test func emptyStoreRoundTrips() throws {
        let written = NativePolicyXML.write(PolicyStore())
        #expect(try NativePolicyXML.read(written, file: "empty.xml") == PolicyStore())
        #expect(
            written.text
                == "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<policyStore xmlns=\"urn:ipsecsvc:policy:1\" version=\"1\"/>\n"
        )
    }

    @Test func mainModeNameAbsentDiffersFromEmpty() throws {
        var store = NativeXMLFixtures.everyField
        store.policies[1].mainMode.name = nil
        let read = try NativePolicyXML.read(NativePolicyXML.write(store), file: "x.xml")
        #expect(read.policies[1].mainMode.name == nil)
        #expect(read.policies[0].mainMode.name == "")
    }

    @Test func embeddedSchemaMatchesTheShippedFile() throws {
        let file = try NativeXMLFixtures.bytes("policies-xml/ipsec-policy.xsd")
        #expect(NativePolicyXML.schema == file.text, "run policies-xml/embed-schema.sh")
    }

    @Test(arguments: [
        Int64(0), 1, -1, 86_399, 86_400, 951_782_400, 1_732_881_600, -62_135_596_800, 253_402_300_799,
        253_402_300_800, -62_135_596_801, .max, .min,
    ])
    func timestampsRoundTrip(seconds: Int64) throws {
        var store = PolicyStore()
        store.filterLists = [FilterList(id: NativeXMLFixtures.guid(1), name: "t", whenChanged: seconds)]
        let read = try NativePolicyXML.read(NativePolicyXML.write(store), file: "t.xml")
        #expect(read.filterLists.first?.whenChanged == seconds)
    }

    @Test func timestampsAreReadableUTC() {
        var store = PolicyStore()
        store.filterLists = [FilterList(id: NativeXMLFixtures.guid(1), name: "t", whenChanged: 1_732_881_600)]
        #expect(NativePolicyXML.write(store).text.contains("whenChanged=\"2024-11-29T12:00:00Z\""))
    }

    /// One compiled schema serves parses on many threads; each parse has its own contexts and errors.
    @Test func concurrentReadsAreIndependent() async throws {
        let good = NativePolicyXML.write(NativeXMLFixtures.everyField)
        let bad = try NativeXMLFixtures.bytes(NativeXMLBadInputTests.corpus + "port-out-of-range.xml")
        let results = await withTaskGroup(of: (Bool, Bool).self) { group in
            for index in 0..<16 {
                group.addTask {
                    let input = index.isMultiple(of: 2) ? good : bad
                    let store = try? NativePolicyXML.read(input, file: "t\(index).xml")
                    return (index.isMultiple(of: 2), store == NativeXMLFixtures.everyField)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 16)
        for (expectGood, wasGood) in results { #expect(expectGood == wasGood) }
    }
}
