/// A registry value's data, typed as `.reg` files spell it.
public enum RegistryData: Hashable, Sendable {
    /// REG_SZ: `"text"` (or `hex(1):`).
    case string(String)
    /// REG_EXPAND_SZ: `hex(2):`.
    case expandString(String)
    /// REG_MULTI_SZ: `hex(7):`.
    case multiString([String])
    /// REG_DWORD: `dword:` (or `hex(4):`).
    case dword(UInt32)
    /// REG_QWORD: `hex(b):`.
    case qword(UInt64)
    /// REG_BINARY: `hex:`.
    case binary([UInt8])
    /// Any other type number, as raw bytes (`hex(N):`).
    case other(type: UInt32, [UInt8])

    /// The Windows type name, for messages.
    public var typeName: String {
        switch self {
        case .string: "REG_SZ"
        case .expandString: "REG_EXPAND_SZ"
        case .multiString: "REG_MULTI_SZ"
        case .dword: "REG_DWORD"
        case .qword: "REG_QWORD"
        case .binary: "REG_BINARY"
        case .other(let type, _): "type \(type)"
        }
    }
}

/// One value of a key, with its line in the file.
public struct RegistryValue: Hashable, Sendable {
    /// The value name; empty for the default value (`@`).
    public var name: String
    public var data: RegistryData
    public var line: Int

    public init(name: String, data: RegistryData, line: Int = 0) {
        self.name = name
        self.data = data
        self.line = line
    }
}

/// A key after applying a `.reg` file to an empty registry: its path as first written and its values.
public struct RegistryKey: Hashable, Sendable {
    /// The full path as written, e.g. `HKEY_LOCAL_MACHINE\SOFTWARE\Policies\...`.
    public var path: String
    public var values: [RegistryValue]
    /// The line of the key's (first) `[...]` line.
    public var line: Int

    public init(path: String, values: [RegistryValue] = [], line: Int = 0) {
        self.path = path
        self.values = values
        self.line = line
    }

    /// The value named `name` (any letter case, as the registry compares names).
    public func value(_ name: String) -> RegistryValue? {
        let key = name.lowercased()
        return values.first { $0.name.lowercased() == key }
    }
}
