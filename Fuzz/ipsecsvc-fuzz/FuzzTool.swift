import FormatFuzzing

#if canImport(Glibc)
import Glibc
#endif

// Two ways to run (Fuzz/README.md):
// - libFuzzer: build with `-Xswiftc -sanitize=fuzzer -Xswiftc -DLIBFUZZER`; FUZZ_TARGET picks the parser.
// - the bounded mutation loop: `ipsecsvc-fuzz TARGET ITERATIONS [CORPUS_DIR] [SEED]`.

/// The libFuzzer entry point.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FormatFuzzing.run(libFuzzerTarget, bytes)
    return 0
}

/// Read once: the environment does not change during a run.
let libFuzzerTarget: FuzzTarget = {
    guard let name = getenv("FUZZ_TARGET").map({ String(cString: $0) }), let target = FuzzTarget(rawValue: name) else {
        return .blob
    }
    return target
}()

#if LIBFUZZER
// SwiftPM links an executable with `main` aliased to `ipsecsvc_fuzz_main`, which hides libFuzzer's own
// `main`; this stand-in hands the command line to libFuzzer's driver (LLVM 11+), as its main would.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("ipsecsvc_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return runFuzzerDriver(&count, &vector) { data, size in fuzzOneInput(data, size) }
}
#else
@main
struct FuzzTool {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3, let target = FuzzTarget(rawValue: arguments[1]), let iterations = Int(arguments[2])
        else {
            let targets = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            print("usage: ipsecsvc-fuzz \(targets) ITERATIONS [CORPUS_DIR (default Fuzz/corpus/TARGET)] [SEED]")
            exit(2)
        }
        let directory = arguments.count > 3 ? arguments[3] : "Fuzz/corpus/\(target.rawValue)"
        let seed = arguments.count > 4 ? UInt64(arguments[4]) ?? 1 : 1
        let seeds = readCorpus(directory)
        guard !seeds.isEmpty else {
            print("no seed files in \(directory)")
            exit(1)
        }
        let statistics = FormatFuzzing.loop(target, seeds: seeds, iterations: iterations, seed: seed)
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        print("\(statistics), seeds \(seeds.count), max RSS \(usage.ru_maxrss / 1024) MiB")
    }

    static func readCorpus(_ directory: String) -> [[UInt8]] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted().compactMap { readFile(directory + "/" + $0) }
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return bytes
    }
}
#endif
