import PolicyFormats
import PolicyModel
import Testing

@Suite struct DirectoryPolicyTests {
    static let container = DirectoryPolicy.ipSecurityContainer(domain: "DC=example,DC=com")

    static func unassigned(_ store: PolicyStore) -> PolicyStore {
        var copy = store
        copy.assignedPolicyID = nil
        return copy
    }

    @Test(arguments: [ExamplePolicies.windowsExamples, unassigned(ExamplePolicies.everything)])
    func storeSurvivesLDIF(store: PolicyStore) throws {
        let entries = try DirectoryPolicy.entries(store, container: Self.container)
        let bytes = LDIF.write(entries)
        let read = try DirectoryPolicy.read(LDIF.entries(bytes, file: "rt.ldif"), file: "rt.ldif")
        #expect(read.store == store)
        #expect(read.groupPolicy.assignments.isEmpty)
    }

    @Test(arguments: [ExamplePolicies.windowsExamples, unassigned(ExamplePolicies.everything)])
    func storeSurvivesDSML(store: PolicyStore) throws {
        let entries = try DirectoryPolicy.entries(store, container: Self.container)
        let read = try DirectoryPolicy.read(DSML.entries(DSML.write(entries), file: "rt.dsml"), file: "rt.dsml")
        #expect(read.store == store)
    }

    @Test func entriesLookLikeTheDirectory() throws {
        let entries = try DirectoryPolicy.entries(ExamplePolicies.windowsExamples, container: Self.container)
        let policy = try #require(entries.first)
        #expect(
            policy.dn
                == "CN=ipsecPolicy{72385236-70fa-11d1-864c-14a300000000},CN=IP Security,CN=System,DC=example,DC=com"
        )
        #expect(policy.objectClasses == ["top", "ipsecpolicy"])
        #expect(
            policy.string("ipsecISAKMPReference")
                == "CN=ipsecISAKMPPolicy{72385237-70fa-11d1-864c-14a300000000},CN=IP Security,CN=System,DC=example,DC=com"
        )
        #expect(policy.string("ipsecDataType") == "256")
        // Windows' default objects have no whenChanged of their own (the domain controller sets it).
        #expect(policy.string("whenChanged") == nil)
        let everything = try DirectoryPolicy.entries(ExamplePolicies.everything, container: Self.container)
        #expect(everything.first?.string("whenChanged") == "20231114221320.0Z")
        let filter = try #require(
            entries.first { $0.objectClasses.contains("ipsecfilter") && $0.string("ipsecName") == "All IP Traffic" }
        )
        #expect(filter.strings("ipsecOwnersReference").count == 2)
    }

    /// Builds a small directory dump, applies `edit` to the entry whose DN starts with `prefix`, reads it.
    static func readEdited(_ prefix: String, _ edit: (inout DirectoryEntry) -> Void) throws -> DirectoryPolicyImport {
        var entries = try DirectoryPolicy.entries(ExamplePolicies.windowsExamples, container: container)
        let index = try #require(entries.firstIndex { $0.dn.hasPrefix(prefix) })
        edit(&entries[index])
        return try DirectoryPolicy.read(LDIF.entries(LDIF.write(entries), file: "bad.ldif"), file: "bad.ldif")
    }

    static func set(_ entry: inout DirectoryEntry, _ name: String, _ values: [DirectoryValue]) {
        entry.attributes.removeAll { $0.name.lowercased() == name.lowercased() }
        entry.attributes.append(DirectoryAttribute(name: name, values: values))
    }

    @Test func danglingReferenceNamesTheObjectAndLine() throws {
        let prefix = "CN=ipsecPolicy{72385230"
        #expect {
            _ = try Self.readEdited(prefix) { entry in
                Self.set(
                    &entry,
                    "ipsecNFAReference",
                    [.text("CN=ipsecNFA{00000000-0000-0000-0000-000000000001},CN=IP Security,DC=x")]
                )
            }
        } throws: { error in
            guard let error = error as? PolicyFormatError else { return false }
            return error.object?.hasPrefix(prefix) == true && error.field == "ipsecNFAReference"
                && error.line != nil && error.message.contains("dangling")
        }
    }

    @Test func cyclicReferenceIsRefused() throws {
        let prefix = "CN=ipsecPolicy{72385230"
        #expect {
            _ = try Self.readEdited(prefix) { entry in
                Self.set(&entry, "ipsecNFAReference", [.text(entry.dn)])
            }
        } throws: { error in
            (error as? PolicyFormatError)?.message.contains("cyclic") == true
        }
    }

    @Test func wrongDataTypeIsRefused() throws {
        #expect {
            _ = try Self.readEdited("CN=ipsecFilter") { entry in Self.set(&entry, "ipsecDataType", [.text("257")]) }
        } throws: { error in
            let error = error as? PolicyFormatError
            return error?.field == "ipsecDataType" && error?.object?.hasPrefix("CN=ipsecFilter") == true
        }
    }

    @Test func truncatedBlobNamesFieldAndOffset() throws {
        #expect {
            _ = try Self.readEdited("CN=ipsecISAKMPPolicy{72385237") { entry in
                let bytes = entry.values("ipsecData")[0].bytes
                Self.set(&entry, "ipsecData", [.binary(Array(bytes.prefix(100)))])
            }
        } throws: { error in
            let error = error as? PolicyFormatError
            return error?.byteOffset == 80 && error?.field == "ipsecData.Security-Method-Count"
                && error?.object?.hasPrefix("CN=ipsecISAKMPPolicy") == true
        }
    }

    @Test func sharedRuleIsRefused() throws {
        #expect {
            _ = try Self.readEdited("CN=ipsecPolicy{7238523c") { entry in
                var references = entry.strings("ipsecNFAReference")
                references.append("CN=ipsecNFA{72385232-70fa-11d1-864c-14a300000000},CN=IP Security")
                Self.set(&entry, "ipsecNFAReference", references.map { .text($0) })
            }
        } throws: { error in
            (error as? PolicyFormatError)?.message.contains("already belongs") == true
        }
    }
}
