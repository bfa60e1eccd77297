import IPsecSystem

/// The service's state directory (`/var/lib/ipsecsvc/`) and the files the policy sources keep in it.
public struct StateDirectory: Hashable, Sendable {
    public var path: String

    public init(path: String) {
        self.path = path
    }

    /// The persistent store (native XML): applied first at service start, changes wait for a restart.
    public var persistentStore: String { path + "/persistent.xml" }
    /// The local store (native XML): applies when no directory policy does.
    public var localStore: String { path + "/local.xml" }
    /// The cached copy of the last applied directory policy (native XML), written only by the service.
    public var directoryCache: String { path + "/directory-cache.xml" }
    /// Where the cached directory policy came from (GPO, link, snapshot): provenance for the cache.
    public var directoryCacheInfo: String { path + "/directory-cache.info" }
    /// The default directory snapshot (DSMLv2 or LDIF) when the configuration names none.
    public var directorySnapshot: String { path + "/directory-snapshot" }
    /// Dynamic `set config` settings; dynamic rules are never written.
    public var dynamicSettings: String { path + "/dynamic-settings.conf" }
    /// The lock that serialises store writers (the service, offline CLI and netsh commands); ServiceHost's
    /// `StateDirectoryLock` takes the same one. `flock` locks are per open file, so code holding the lock
    /// must not call ``withLock(_:)`` again.
    public var lockFile: String { path + "/.store.lock" }

    /// Runs `body` holding the exclusive store lock (`flock` on ``lockFile``), creating the directory and
    /// its lock file when needed. Blocks until the lock is free: async callers go through
    /// `BlockingPool` (never a serial queue that other work shares).
    /// - Throws: the ``SystemError`` of `mkdir`, `open` or `flock`, or what `body` throws.
    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws -> T {
        try FileSystem.makeDirectories(path, mode: 0o750)
        return try FileLock.withExclusiveLock(lockFile) { () throws -> T in try body() }
    }
}
