import Foundation
import IPsecSystem

/// `ipsecsvc-driver-harness outlived-lock NAME`: listens on the abstract Unix socket NAME, starts a copy
/// holder (`hold-copy`, below) with that socket, prints both PIDs and exits: the listener is gone while its
/// socket, and so the name, lives on in another process. A driver killed while a child it was starting
/// had not yet reached its exec leaves its lock socket in that state (DriverFailureTests).
func runOutlivedLock(_ arguments: [String]) -> Int32 {
    guard arguments.count == 1 else { return 2 }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return 3 }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let name = Array(arguments[0].utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw[0] = 0  // abstract: no file
        raw.baseAddress!.advanced(by: 1).copyMemory(from: name, byteCount: name.count)
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + name.count)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0, listen(fd, 8) == 0 else {
        FileHandle.standardError.write(Data("outlived-lock: cannot listen on @\(arguments[0]): errno \(errno)\n".utf8))
        return 1
    }
    do {
        let copy = try ChildProcess.spawn(
            Command(CurrentProcess.executablePath, ["hold-copy"], passedDescriptors: [fd], grouping: .newSession)
        )
        say("outlived-lock: listener \(getpid()) exits; \(copy.pid) holds a copy of its socket")
    } catch {
        FileHandle.standardError.write(Data("outlived-lock: \(error)\n".utf8))
        return 1
    }
    return 0
}

/// `ipsecsvc-driver-harness hold-copy` (started by `outlived-lock`): holds descriptor 3, a listening socket
/// whose listener has exited, until someone has connected to it (a driver's probe: it then knows the name
/// was bound when it tried), then 200 ms more; at most 300 s in all.
func runHoldCopy() -> Int32 {
    var entry = pollfd(fd: 3, events: Int16(POLLIN), revents: 0)
    _ = poll(&entry, 1, 300_000)
    usleep(200_000)
    return 0
}
