import Foundation
import PolicyFormats
import PolicyModel
import Testing

func fixture(_ directory: String, _ name: String) throws -> [UInt8] {
    let url = try #require(
        Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/\(directory)")
    )
    return Array(try Data(contentsOf: url))
}

/// `text` as regedit 5.00 writes it: UTF-16LE with a byte-order mark, CR LF.
func regedit5(_ lines: [String]) -> [UInt8] {
    [0xFF, 0xFE] + (lines.joined(separator: "\r\n") + "\r\n").utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
}

@Suite struct RegistryTests {
    @Test(arguments: ["gsecurity-local-5.reg", "gsecurity-local-4.reg"])
    func readsRealBlobsInBothRegeditVersions(name: String) throws {
        let result = try RegistryExport.read(try fixture("reg", name), file: name)
        let store = try #require(result.stores[.local])
        #expect(result.stores.count == 1)
        let policy = try #require(store.assignedPolicy)
        #expect(policy.name == "GSecurity IP Policy")
        #expect(policy.pollingIntervalSeconds == 10_800)
        #expect(
            policy.mainMode.securityMethods == [
                MainModeSecurityMethod(encryption: .tripleDES, hash: .sha1, group: .group2)
            ]
        )
        #expect(policy.rules.count == 2)
        #expect(policy.rules[0].isDefaultResponse && !policy.rules[0].isActive)
        #expect(policy.rules[1].interfaceType == .dialUp)
        #expect(policy.rules[1].filterListIDs == [IPsecGUID("{641c767c-fe15-40d4-831d-bd9a5d4fb9cf}")!])
        #expect(store.filterAction(named: "Block")?.action == .block)
        #expect(store.filterLists.count == 2)
        #expect(store.filterList(named: "Blocked IP Filter List")?.filters.first?.sourcePort == 22)
        #expect(policy.whenChanged == 0x5F5E_1000)
        #expect(result.serviceSettings.noDefaultExempt == 3)
        #expect(result.report == ["service setting NoDefaultExempt = 3"])
    }

    @Test(arguments: RegistryStoreKind.allCases)
    func writtenStoreReadsBackToTheSameModel(kind: RegistryStoreKind) throws {
        for store in [ExamplePolicies.windowsExamples, ExamplePolicies.everything] {
            let settings = RegistryServiceSettings(noDefaultExempt: 1, operationMode: 2)
            let bytes = try RegistryExport.write(store, kind: kind, serviceSettings: settings)
            let read = try RegistryExport.read(bytes, file: "rt.reg")
            #expect(read.stores == [kind: store])
            #expect(read.serviceSettings == settings)
        }
    }

    @Test func writesAsRegeditDoes() throws {
        let bytes = try RegistryExport.write(ExamplePolicies.windowsExamples, kind: .local)
        #expect(bytes.starts(with: [0xFF, 0xFE, UInt8(ascii: "W"), 0]))
        let text = String(
            decoding: stride(from: 2, to: bytes.count, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 },
            as: UTF16.self
        )
        #expect(
            text.hasPrefix(
                "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\IPSec\\Policy\\Local]\r\n"
            )
        )
        let lines = text.components(separatedBy: "\r\n")
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(lines.filter { $0.contains("=hex") || $0.hasPrefix("  ") }.allSatisfy { $0.count <= 80 })
        // A 25-byte policy blob: 21 bytes fill the first line to 80 columns, 4 follow.
        let start = try #require(lines.firstIndex { $0.hasPrefix("\"ipsecData\"=hex:63,21,20,22") })
        #expect(lines[start] == "\"ipsecData\"=hex:63,21,20,22,4c,4f,d1,11,86,3b,00,a0,24,8d,30,21,04,00,00,00,30,\\")
        #expect(lines[start + 1] == "  2a,00,00,00")
        let continued = lines.filter { $0.hasPrefix("  ") && $0.hasSuffix("\\") }
        #expect(!continued.isEmpty && continued.allSatisfy { $0.count == 78 })
        #expect(text.contains("\"ipsecNFAReference\"=hex(7):53,00,4f,00,46,00"))
        #expect(
            text.contains(
                "\"ipsecISAKMPReference\"=\"SOFTWARE\\\\Policies\\\\Microsoft\\\\Windows\\\\IPSEC\\\\Policy\\\\Local\\\\ipsecISAKMPPolicy{"
            )
        )
    }

    @Test func appliesDeletionsCommentsAndEscapes() throws {
        let keys = try RegFile.keys(
            regedit5([
                "Windows Registry Editor Version 5.00", "", "; comment",
                "[HKEY_LOCAL_MACHINE\\A]", "\"x\"=\"a \\\"quoted\\\" \\\\ back\"", "\"y\"=dword:1",
                "@=hex(2):41,00,00,00",
                "[HKEY_LOCAL_MACHINE\\A\\B]", "\"z\"=hex:01,02,\\", "  03", "[-hkey_local_machine\\a\\b]",
                "[HKEY_LOCAL_MACHINE\\a]", "\"Y\"=-", "\"q\"=hex(b):01,00,00,00,00,00,00,00",
            ]),
            file: "ops.reg"
        )
        #expect(keys.map(\.path) == ["HKEY_LOCAL_MACHINE\\A"])
        #expect(keys[0].value("x")?.data == .string("a \"quoted\" \\ back"))
        #expect(keys[0].value("y") == nil)
        #expect(keys[0].value("")?.data == .expandString("A"))
        #expect(keys[0].value("q")?.data == .qword(1))
    }

    /// Found by the fuzzer: a NUL inside a quoted string must end the REG_SZ, as Windows reads it, or
    /// the value would not survive writing (as hex(1)) and reading back.
    @Test func quotedStringEndsAtNUL() throws {
        let keys = try RegFile.keys(
            regedit5(["Windows Registry Editor Version 5.00", "[HKEY_LOCAL_MACHINE\\A]", "\"x\"=\"ab\u{0}cd\""]),
            file: "nul.reg"
        )
        #expect(keys.first?.value("x")?.data == .string("ab"))
    }

    /// Found by the fuzzer: a quote followed by a combining mark is one `Character`; escaping and
    /// parsing must work on Unicode scalars.
    @Test func namesWithCombiningMarksSurvive() throws {
        var store = ExamplePolicies.windowsExamples
        store.filterActions[0].name = "n \"\u{1071}\" \\\u{301}"
        store.policies[0].name = "\u{301}[x]\u{301}\\"
        let back = try RegistryExport.read(try RegistryExport.write(store, kind: .local), file: "m.reg")
        #expect(back.stores[.local] == store)
    }

    /// Found by the fuzzer: an empty ISAKMP `ipsecName` is not an absent one.
    @Test func emptyMainModeNameSurvives() throws {
        var store = ExamplePolicies.windowsExamples
        store.policies[0].mainMode.name = ""
        store.policies[1].mainMode.name = "MM"
        let back = try RegistryExport.read(try RegistryExport.write(store, kind: .local), file: "e.reg")
        #expect(back.stores[.local] == store)
        let entries = try DirectoryPolicy.entries(store, container: "CN=IP Security,DC=example")
        #expect(
            try DirectoryPolicy.read(LDIF.entries(LDIF.write(entries), file: "e.ldif"), file: "e.ldif").store == store
        )
    }

    @Test func readsGroupPolicyAssignment() throws {
        let result = try RegistryExport.read(
            regedit5([
                "Windows Registry Editor Version 5.00",
                "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\IPSec\\GPTIPSECPolicy]",
                "\"DSIPSECPolicyPath\"=\"LDAP://CN=ipsecPolicy{7238523c-70fa-11d1-864c-14a300000000},CN=IP Security,CN=System,DC=example,DC=com\"",
                "\"DSIPSECPolicyName\"=\"Secure Server (Require Security)\"",
            ]),
            file: "gpt.reg"
        )
        #expect(result.stores.isEmpty)
        #expect(result.directoryAssignment?.policyID == IPsecGUID("{7238523c-70fa-11d1-864c-14a300000000}"))
        #expect(result.directoryAssignment?.policyDN.hasPrefix("CN=ipsecPolicy{") == true)
        #expect(result.report.count == 1)
    }

    static let storeKey =
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\IPSec\\Policy\\Local\\ipsecPolicy{72385236-70fa-11d1-864c-14a300000000}]"

    @Test(arguments: [
        (["REGEDIT5", "[HKEY_LOCAL_MACHINE\\A]"], 1, "missing header"),
        (["REGEDIT4", "", "[HKEY_LOCAL_MACHINE\\A"], 3, "unterminated key"),
        (
            ["REGEDIT4", "[HKEY_LOCAL_MACHINE\\A]", "\"v\"=hex:01,02,\\", "[HKEY_LOCAL_MACHINE\\B]"], 4,
            "broken continuation"
        ),
        (["REGEDIT4", "[HKEY_LOCAL_MACHINE\\A]", "\"v\"=hex:01,02,\\"], 4, "broken continuation"),
        (["REGEDIT4", "[HKEY_LOCAL_MACHINE\\A]", "\"v\"=hex:01,zz"], 3, "two hex digits"),
        (["REGEDIT4", "[HKEY_LOCAL_MACHINE\\A]", "\"v\"=dword:123456789"], 3, "dword"),
        (["REGEDIT4", "\"v\"=dword:1"], 2, "before any [key]"),
        (["REGEDIT4", "[HKEY_LOCAL_MACHINE\\A]", "\"v=\"x\""], 3, "expected '='"),
        (
            ["Windows Registry Editor Version 5.00", "[HKEY_LOCAL_MACHINE\\A]", "\"v\"=hex(7):41,00,42"], 3,
            "odd-length UTF-16"
        ),
        (["REGEDIT4", storeKey, "\"ipsecData\"=\"not binary\""], 3, "expected REG_BINARY"),
        (["REGEDIT4", storeKey, "\"ipsecDataType\"=\"256\""], 3, "expected REG_DWORD"),
        (["REGEDIT4", storeKey, "\"ipsecNFAReference\"=dword:1"], 3, "expected REG_SZ or REG_MULTI_SZ"),
    ])
    func rejectsBadInput(lines: [String], line: Int, fragment: String) {
        #expect {
            _ = try RegistryExport.read(Array((lines.joined(separator: "\r\n") + "\r\n").utf8), file: "bad.reg")
        } throws: { error in
            let error = error as? PolicyFormatError
            return error?.line == line && error?.message.contains(fragment) == true && error?.file == "bad.reg"
        }
    }

    @Test func oddLengthUTF16FileIsRefused() {
        var bytes = regedit5(["Windows Registry Editor Version 5.00"])
        bytes.append(0x41)
        #expect {
            _ = try RegistryExport.read(bytes, file: "odd.reg")
        } throws: { error in
            (error as? PolicyFormatError)?.message.contains("odd number of bytes") == true
        }
    }

    @Test func badBlobNamesKeyValueAndOffset() throws {
        var keys = try RegFile.keys(try fixture("reg", "gsecurity-local-4.reg"), file: "gs.reg")
        let index = try #require(
            keys.firstIndex { $0.path.hasSuffix("ipsecISAKMPPolicy{e627a7fc-634a-466b-bd85-4b84ffa02dee}") }
        )
        let value = try #require(keys[index].values.firstIndex { $0.name == "ipsecData" })
        guard case .binary(var blob) = keys[index].values[value].data else { throw CancellationError() }
        blob[80] = 9  // Security-Method-Count: 9 methods do not fit.
        keys[index].values[value].data = .binary(blob)
        #expect {
            _ = try RegistryExport.read(RegFile.write(keys), file: "gs.reg")
        } throws: { error in
            guard let error = error as? PolicyFormatError else { return false }
            return error.object?.hasSuffix("ipsecISAKMPPolicy{e627a7fc-634a-466b-bd85-4b84ffa02dee}") == true
                && error.field == "ipsecData.Security-Method-Count" && error.byteOffset == 80 && error.line != nil
        }
    }

    @Test func danglingActivePolicyIsRefused() {
        let lines = [
            "REGEDIT4", "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\IPSec\\Policy\\Local]",
            "\"ActivePolicy\"=\"SOFTWARE\\\\Policies\\\\Microsoft\\\\Windows\\\\IPSEC\\\\Policy\\\\Local\\\\ipsecPolicy{72385236-70fa-11d1-864c-14a300000000}\"",
        ]
        #expect {
            _ = try RegistryExport.read(Array(lines.joined(separator: "\n").utf8), file: "d.reg")
        } throws: { error in
            let error = error as? PolicyFormatError
            return error?.field == "ActivePolicy" && error?.line == 3 && error?.message.contains("dangling") == true
        }
    }
}
