import Foundation

/// Runs the built `ipsecsvc` executable and captures what it prints.
///
/// The test bundle lives in the build products directory (`.build/<triple>/debug/`), and so does
/// the executable, because the IntegrationTests target depends on it; `IPSECSVC_BINARY` overrides.
enum IPsecSvcProcess {
    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String

        /// Standard error split into lines, without the empty last one.
        var errorLines: [String] { standardError.split(separator: "\n").map(String.init) }
    }

    static var executable: URL {
        if let override = ProcessInfo.processInfo.environment["IPSECSVC_BINARY"] {
            return URL(fileURLWithPath: override)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("ipsecsvc")
    }

    /// The package root, for the shipped `policies-xml/`.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// Runs the executable to completion on a thread of its own (the reads and the wait block), so
    /// the cooperative pool stays free for the tests running in parallel.
    static func run(_ arguments: [String], input: Data? = nil) async throws -> Result {
        try await offPool { try runBlocking(arguments, input: input) }
    }

    private static func runBlocking(_ arguments: [String], input: Data?) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        try process.run()
        if let input {
            inputPipe.fileHandleForWriting.write(input)
            try inputPipe.fileHandleForWriting.close()
        }
        // Read both pipes before waiting, so a chatty child cannot block on a full pipe.
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self)
        )
    }
}
