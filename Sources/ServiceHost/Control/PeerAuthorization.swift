public import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

extension PeerCredentials {
    /// The user name, when the password database knows it.
    public var userName: String? { UserDatabase.userName(uid: uid) }

    /// `uid 1000 (alice), gid 1000, pid 4242`: for the journal.
    var withUserName: String { "uid \(uid)\(userName.map { " (\($0))" } ?? ""), gid \(gid), pid \(pid)" }
}

/// Who may use the control socket: root and members of the admin group (`ipsecadm`).
public struct PeerAuthorizer: Sendable {
    public var groupName: String

    public init(groupName: String) { self.groupName = groupName }

    /// The admin group's id, if the group exists.
    public var groupID: UInt32? { UserDatabase.lookupGroup(named: groupName)?.gid }

    /// Whether `peer` may use the socket: root, or the admin group as its primary group, as a
    /// supplementary group of the process (`/proc/<pid>/status`), or as a listed member of the group.
    public func isAuthorized(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 { return true }
        guard let gid = groupID else { return false }
        if peer.gid == gid { return true }
        if Self.supplementaryGroups(of: peer.pid).contains(gid) { return true }
        if let user = peer.userName, UserDatabase.lookupGroup(named: groupName)?.members.contains(user) == true {
            return true
        }
        return false
    }

    /// The supplementary groups of a live process, from `/proc/<pid>/status`.
    static func supplementaryGroups(of pid: Int32) -> [UInt32] {
        guard let text = try? FileSystem.readTextIfPresent("/proc/\(pid)/status", limit: 1 << 16) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("Groups:") {
            return line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
                .compactMap { UInt32($0) }
        }
        return []
    }
}

/// The group and password databases through the reentrant `getgrnam_r` / `getpwuid_r`: connections
/// are authorized on several threads at once, and `getgrnam` / `getpwuid` share static buffers.
enum UserDatabase {
    struct Group {
        var gid: UInt32
        var members: [String]
    }

    static func lookupGroup(named name: String) -> Group? {
        var size = 16 * 1024
        while size <= 1 << 24 {
            var entry = group()
            var result: UnsafeMutablePointer<group>?
            var buffer = [CChar](repeating: 0, count: size)
            let code = getgrnam_r(name, &entry, &buffer, buffer.count, &result)
            if code == ERANGE {
                size *= 4
                continue
            }
            guard code == 0, result != nil else { return nil }
            // gr_mem points into `buffer`: read it before the buffer goes away.
            var members: [String] = []
            if var member = entry.gr_mem {
                while let memberName = member.pointee {
                    members.append(String(cString: memberName))
                    member += 1
                }
            }
            return Group(gid: entry.gr_gid, members: members)
        }
        return nil
    }

    static func userName(uid: UInt32) -> String? {
        var size = 16 * 1024
        while size <= 1 << 24 {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            var buffer = [CChar](repeating: 0, count: size)
            let code = getpwuid_r(uid, &entry, &buffer, buffer.count, &result)
            if code == ERANGE {
                size *= 4
                continue
            }
            guard code == 0, result != nil, let name = entry.pw_name else { return nil }
            return String(cString: name)
        }
        return nil
    }
}
