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

    /// Whether `peer` may use the socket: root, or the admin group as its primary or supplementary group
    /// at connect time (``PeerCredentials/groups``), or its user as a listed member of the group.
    ///
    /// Decided from what the kernel recorded at `connect`, never from `/proc/<pid>`: the peer may have
    /// exited by now and its PID may belong to another process.
    public func isAuthorized(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 { return true }
        guard let group = UserDatabase.lookupGroup(named: groupName) else { return false }
        if peer.gid == group.gid || peer.groups.contains(group.gid) { return true }
        if let user = peer.userName, group.members.contains(user) { return true }
        return false
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
