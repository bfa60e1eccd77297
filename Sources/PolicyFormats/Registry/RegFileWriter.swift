public import PolicyModel

extension RegFile {
    /// regedit breaks `hex` data after the comma that brings a line to this many characters.
    static let hexWrapColumn = 77

    /// Writes keys as regedit 5.00 does: UTF-16LE with a byte-order mark, CR LF, a blank line before
    /// each key, `hex` data wrapped with `\` at 80 columns and continued with two spaces.
    public static func write(_ keys: [RegistryKey]) -> [UInt8] {
        var text = header5 + "\r\n"
        for key in keys {
            text += "\r\n[\(key.path)]\r\n"
            for value in key.values { text += line(value) + "\r\n" }
        }
        text += "\r\n"
        return [0xFF, 0xFE] + utf16(text)
    }

    private static func line(_ value: RegistryValue) -> String {
        let name = value.name.isEmpty ? "@=" : "\"\(escape(value.name))\"="
        switch value.data {
        // A quoted string cannot hold line breaks or other control characters; hex(1) can.
        case .string(let text) where text.unicodeScalars.contains(where: { $0.value < 0x20 }):
            return hex(name + "hex(1):", utf16(text + "\0"))
        case .string(let text): return name + "\"\(escape(text))\""
        case .dword(let number):
            let digits = String(number, radix: 16)
            return name + "dword:" + String(repeating: "0", count: 8 - digits.count) + digits
        case .binary(let bytes): return hex(name + "hex:", bytes)
        case .expandString(let text): return hex(name + "hex(2):", utf16(text + "\0"))
        case .multiString(let list): return hex(name + "hex(7):", utf16(list.map { $0 + "\0" }.joined() + "\0"))
        case .qword(let number): return hex(name + "hex(b):", (0..<8).map { UInt8(number >> (8 * $0) & 0xFF) })
        case .other(let type, let bytes): return hex(name + "hex(\(String(type, radix: 16))):", bytes)
        }
    }

    /// Escapes `\` and `"` scalar by scalar: a quote followed by a combining mark is one `Character`,
    /// which a `Character`-level replace would miss (found by the fuzzer).
    private static func escape(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\\" || scalar == "\"" { out.append("\\") }
            out.append(scalar)
        }
        return String(out)
    }

    private static func utf16(_ text: String) -> [UInt8] {
        UTF16LE.bytes(text.utf16)
    }

    /// `prefix` then `xx,` items, breaking (`\`, CR LF, two spaces) once a line reaches 77 characters.
    private static func hex(_ prefix: String, _ bytes: [UInt8]) -> String {
        var out = prefix
        var column = prefix.count
        let digits = Array("0123456789abcdef")
        for (index, byte) in bytes.enumerated() {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
            column += 2
            guard index < bytes.count - 1 else { break }
            out += ","
            column += 1
            if column >= hexWrapColumn {
                out += "\\\r\n  "
                column = 2
            }
        }
        return out
    }
}

extension RegistryExport {
    /// Writes one store as a `.reg` file that regedit imports: the store key with `ActivePolicy`, then
    /// one key per object (`<class>{GUID}`) with the values Windows writes (windows-ipsec.md §1.2) and
    /// references as registry paths relative to HKLM. Optional service settings go to the IPSEC service key.
    ///
    /// Importing merges into the registry: objects already in the store and not in the file stay.
    /// - Throws: ``PolicyFormatError`` when the store cannot be expressed in Windows data (a `whenChanged`
    ///   outside the 32-bit registry range, special servers on both sides of a filter).
    public static func write(
        _ store: PolicyStore,
        kind: RegistryStoreKind = .local,
        serviceSettings: RegistryServiceSettings = RegistryServiceSettings(),
        file: String = "<output>"
    ) throws(PolicyFormatError) -> [UInt8] {
        // Windows writes `IPSEC` in upper case inside references (the key itself is `IPSec`).
        let referenceBase = "SOFTWARE\\Policies\\Microsoft\\Windows\\IPSEC\\Policy\\" + kind.rawValue
        let objects = try StoreDisassembler.objects(store, file: file) { name in referenceBase + "\\" + name.description
        }
        let storePath = "HKEY_LOCAL_MACHINE\\" + kind.keyPath
        var storeKey = RegistryKey(path: storePath)
        if let assigned = store.assignedPolicyID {
            let reference = referenceBase + "\\" + WindowsObjectName(.policy, assigned).description
            storeKey.values.append(RegistryValue(name: "ActivePolicy", data: .string(reference)))
        }
        var keys = [storeKey]
        for object in objects {
            var key = RegistryKey(path: storePath + "\\" + object.name.description)
            func add(_ name: String, _ data: RegistryData) { key.values.append(RegistryValue(name: name, data: data)) }
            add("className", .string(object.name.objectClass.rawValue))
            add("name", .string(object.name.description))
            if let name = object.ipsecName { add("ipsecName", .string(name)) }
            if let description = object.description { add("description", .string(description)) }
            add("ipsecID", .string(object.name.id.braced))
            if let when = object.whenChanged {
                guard let seconds = UInt32(exactly: when) else {
                    throw PolicyFormatError(
                        file: file,
                        object: key.path,
                        field: "whenChanged",
                        message: "whenChanged \(when) does not fit the registry's 32-bit REG_DWORD"
                    )
                }
                add("whenChanged", .dword(seconds))
            }
            add("ipsecDataType", .dword(BlobType.dataType))
            add("ipsecData", .binary(object.data ?? []))
            let single = [ReferenceAttribute.isakmp, ReferenceAttribute.negotiationPolicy]
            for field in single + [ReferenceAttribute.nfa, ReferenceAttribute.filter, ReferenceAttribute.owners] {
                guard let values = object.references[field.lowercased()] else { continue }
                add(field, single.contains(field) ? .string(values.first ?? "") : .multiString(values))
            }
            if let action = object.negotiationPolicyAction { add("iPSECNegotiationPolicyAction", .string(action)) }
            if let type = object.negotiationPolicyType { add("iPSECNegotiationPolicyType", .string(type)) }
            keys.append(key)
        }
        if !serviceSettings.isEmpty {
            var key = RegistryKey(path: "HKEY_LOCAL_MACHINE\\" + serviceKey)
            if let value = serviceSettings.noDefaultExempt {
                key.values.append(RegistryValue(name: "NoDefaultExempt", data: .dword(value)))
            }
            if let value = serviceSettings.operationMode {
                key.values.append(RegistryValue(name: "OperationMode", data: .dword(value)))
            }
            keys.append(key)
        }
        return RegFile.write(keys)
    }
}
