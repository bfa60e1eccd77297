import IPsecTestKit
import PolicyFormats
import PolicyModel
import Testing

/// `ipsecsvc boot` answers "is a policy assigned?" from a store's root start tag alone; every answer
/// it gives must be the one the full reader gives, and it must say "cannot tell" otherwise.
@Suite struct NativeXMLRootTagTests {
    static let root = #"<policyStore xmlns="urn:ipsecsvc:policy:1" version="1""#
    static let guid = "{00000000-0000-4000-8000-000000000001}"

    static func head(_ text: String) -> Bool? { NativePolicyXML.declaresAssignedPolicy(head: Array(text.utf8)) }

    /// The writer's output for random stores: the head's answer is the model's.
    @Test func agreesWithTheReaderOnWrittenStores() throws {
        for seed in UInt64(1)...60 {
            let store = NativeXMLRandomRoundTripTests.store(seed: seed)
            let bytes = NativePolicyXML.write(store)
            let read = try NativePolicyXML.read(bytes, file: "seed \(seed)")
            #expect(
                NativePolicyXML.declaresAssignedPolicy(head: Array(bytes.prefix(4096)))
                    == (read.assignedPolicyID != nil),
                "seed \(seed)"
            )
        }
    }

    @Test func readsTheRootTagAfterAProlog() {
        #expect(
            Self.head(
                "\u{FEFF}<?xml version=\"1.0\"?>\n<!-- a comment -->\n\(Self.root) assignedPolicy='\(Self.guid)'>"
            ) == true
        )
        #expect(
            Self.head(
                "<p:policyStore xmlns:p=\"urn:ipsecsvc:policy:1\"\n  assignedPolicy = \"\(Self.guid)\" version=\"1\">"
            ) == true
        )
        #expect(Self.head("\(Self.root)>") == false)
        #expect(Self.head("\(Self.root)/>") == false)
        #expect(Self.head("\(Self.root) x:assignedPolicy=\"\(Self.guid)\">") == false)
    }

    /// Whatever the head cannot vouch for is left to the full reader.
    @Test func cannotTellIsNil() {
        #expect(Self.head("") == nil)
        #expect(Self.head("<!DOCTYPE policyStore>\(Self.root) assignedPolicy=\"\(Self.guid)\">") == nil)
        #expect(Self.head("<otherRoot assignedPolicy=\"\(Self.guid)\">") == nil)
        #expect(Self.head("\(Self.root) assignedPolicy=\"\">") == nil)
        #expect(Self.head("\(Self.root) assignedPolicy=\"\(Self.guid)") == nil)
        #expect(Self.head("\(Self.root) assignedPolicy=\"\(Self.guid)\"") == nil)
        #expect(Self.head("<!-- never closed \(Self.root) assignedPolicy=\"\(Self.guid)\">") == nil)
        #expect(NativePolicyXML.declaresAssignedPolicy(head: [0xFF, 0xFE, 0x3C, 0x00]) == nil)
        #expect(Self.head("text \(Self.root)>") == nil)
    }

    @Test func readsOnlyTheHeadOfAFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // The tag is complete in the head; what follows is never looked at (here: not even XML).
        let path = directory.write(
            "store.xml",
            "\(Self.root) assignedPolicy=\"\(Self.guid)\">" + String(repeating: "<", count: 100_000)
        )
        #expect(NativePolicyXML.declaresAssignedPolicy(contentsOf: path) == true)
        let long = directory.write("long.xml", "<!--" + String(repeating: "x", count: 5000) + "-->\(Self.root)>")
        #expect(NativePolicyXML.declaresAssignedPolicy(contentsOf: long) == nil)
        #expect(NativePolicyXML.declaresAssignedPolicy(contentsOf: directory.file("missing.xml")) == nil)
        #expect(NativePolicyXML.declaresAssignedPolicy(contentsOf: directory.path) == nil)
    }
}
