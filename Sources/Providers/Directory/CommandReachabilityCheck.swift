#if canImport(Glibc)
import Glibc
#endif

/// The configured reachability check (`directory_check`): a program that exits 0 when the directory can
/// be reached. Runs off the cooperative pool.
public struct CommandReachabilityCheck: DirectoryReachabilityCheck {
    public var program: String

    public init(program: String) {
        self.program = program
    }

    public func unreachableReason() async -> String? {
        let program = self.program
        return await BlockingIO.run { () -> String? in
            var pid: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup(program), nil]
            defer { argv.forEach { free($0) } }
            let spawned = posix_spawn(&pid, program, nil, nil, argv, environ)
            guard spawned == 0 else { return "\(program) cannot be run: \(String(cString: strerror(spawned)))" }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let exited = status & 0x7F == 0
            let code = (status >> 8) & 0xFF
            if exited && code == 0 { return nil }
            return exited ? "\(program) exited with status \(code)" : "\(program) was killed by signal \(status & 0x7F)"
        }
    }
}
