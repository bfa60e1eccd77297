import IPsecSystem
import IPsecTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

struct FileSystemTests {
    @Test func aMissingFileIsAnErrorNamingThePathAndTheCall() throws {
        let error = #expect(throws: SystemError.self) { try FileSystem.read("/nonexistent/ipsecsvc", limit: 10) }
        #expect(error?.errno == .noSuchFile)
        #expect(error?.description == "/nonexistent/ipsecsvc: open: no such file or directory")
        #expect(try FileSystem.readIfPresent("/nonexistent/ipsecsvc", limit: 10) == nil)
    }

    @Test func aRegularFileOverTheLimitIsRefusedBeforeItIsRead() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.write("big", String(repeating: "x", count: 100))
        #expect(try FileSystem.read(path, limit: 100).count == 100)
        let error = #expect(throws: SystemError.self) { try FileSystem.read(path, limit: 99) }
        #expect(error?.errno == .fileTooLarge)
        #expect(error?.description == "\(path): read: 100 bytes, larger than the limit of 99 bytes")
    }

    @Test func aStreamIsReadToItsEndWithinTheLimit() throws {
        // /proc files report size 0 and still have content.
        let status = try FileSystem.readText("/proc/self/status", limit: 1 << 16)
        #expect(status.contains("Pid:"))
        let error = #expect(throws: SystemError.self) { try FileSystem.read("/proc/self/status", limit: 10) }
        #expect(error?.errno == .fileTooLarge)
    }

    @Test func aPipeIsLimitedToo() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let bytes = [UInt8](repeating: 65, count: 5000)
        try FileSystem.writeAll(bytes, to: ends[1], name: "pipe")
        close(ends[1])
        let error = #expect(throws: SystemError.self) {
            try FileSystem.read(descriptor: ends[0], name: "standard input", limit: 4096)
        }
        #expect(error?.description == "standard input: read: larger than the limit of 4096 bytes")
    }

    @Test func directoriesAndFIFOsAreRefusedWhereOnlyFilesAreWanted() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let error = #expect(throws: SystemError.self) { try FileSystem.read(directory.path, limit: 100) }
        #expect(error?.errno == .isDirectory)
        let fifo = directory.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        // No writer: a blocking open would wait for ever.
        let refused = #expect(throws: SystemError.self) {
            try FileSystem.read(fifo, limit: 100, accept: .regularFiles)
        }
        #expect(refused?.description == "\(fifo): read: not a regular file")
    }

    @Test func makeDirectoriesCreatesParentsAndKeepsExistingOnes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try FileSystem.makeDirectories(directory.file("a/b/c"), mode: 0o700)
        try FileSystem.makeDirectories(directory.file("a/b"), mode: 0o700)
        #expect(FileSystem.isDirectory(directory.file("a/b/c")))
        #expect(try FileSystem.entries(of: directory.file("a")) == ["b"])
        #expect(FileSystem.directory(of: "/x") == "/")
        #expect(FileSystem.directory(of: "x") == ".")
        #expect(FileSystem.directory(of: "/a/b/x") == "/a/b")
    }
}

struct DurableFileTests {
    @Test func replacesTheFileAndLeavesNoTemporary() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("store.xml")
        try DurableFile.write(Array("one".utf8), to: path, permissions: 0o600)
        try DurableFile.write(Array("two".utf8), to: path, permissions: 0o600)
        #expect(try FileSystem.readText(path, limit: 10) == "two")
        #expect(try FileSystem.entries(of: directory.path) == ["store.xml"])
        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
    }

    @Test func aFailedWriteNamesTheFileAndTheStep() throws {
        let error = #expect(throws: SystemError.self) {
            try DurableFile.write([1], to: "/nonexistent/dir/store.xml")
        }
        #expect(error?.operation == "open")
        #expect(error?.path?.hasPrefix("/nonexistent/dir/store.xml.tmp-") == true)
    }

    @Test func temporariesOfDeadWritersAreRemovedOthersStay() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("store.xml")
        // PID 2^22 + 1 is above pid_max's largest value: no such process.
        directory.write("store.xml.tmp-4194305-17", "dead")
        directory.write("store.xml.tmp-1-17", "init is alive")
        directory.write("store.xml.tmp-x-17", "not ours")
        try DurableFile.write(Array("new".utf8), to: path)
        #expect(
            try FileSystem.entries(of: directory.path) == ["store.xml", "store.xml.tmp-1-17", "store.xml.tmp-x-17"]
        )
    }
}
