#if canImport(Glibc)
import Glibc
#endif

/// Group lookups for tests through the reentrant `getgrgid_r` / `getgrnam_r`: every suite runs in one
/// process, and `getgrgid` / `getgrnam` share one static buffer, so a lookup on another thread can change
/// the name or number a test is reading.
public enum GroupDatabase {
    /// The name of group `gid`.
    public static func name(of gid: UInt32) -> String? {
        lookup { entry, buffer, size, result in getgrgid_r(gid, &entry, buffer, size, &result) }?.name
    }

    /// The number of group `name`.
    public static func gid(of name: String) -> UInt32? {
        lookup { entry, buffer, size, result in getgrnam_r(name, &entry, buffer, size, &result) }?.gid
    }

    private static func lookup(
        _ call: (inout group, UnsafeMutablePointer<CChar>, Int, inout UnsafeMutablePointer<group>?) -> Int32
    ) -> (name: String, gid: UInt32)? {
        var size = 16 * 1024
        while size <= 1 << 24 {
            var buffer = [CChar](repeating: 0, count: size)
            // The entry's strings point into `buffer`: read them while it is lent out.
            let (code, found) = buffer.withUnsafeMutableBufferPointer { buffer -> (Int32, (String, UInt32)?) in
                var entry = group()
                var result: UnsafeMutablePointer<group>?
                let code = call(&entry, buffer.baseAddress!, buffer.count, &result)
                guard code == 0, result != nil, let name = entry.gr_name else { return (code, nil) }
                return (code, (String(cString: name), entry.gr_gid))
            }
            if code == ERANGE {
                size *= 4
                continue
            }
            return found.map { (name: $0.0, gid: $0.1) }
        }
        return nil
    }
}
