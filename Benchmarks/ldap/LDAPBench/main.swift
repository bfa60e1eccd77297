import DecisionCore
import IPsecSystem
import IPsecTestKit
import PolicyFormats
import PolicyModel
import Providers

#if canImport(Glibc)
import Glibc
#endif

// The live directory's cost, measured inside a client of the benchmark's Samba DC (Benchmarks/ldap/run.sh):
//
//   ipsecsvc-ldap-bench read DOMAIN KEYTAB RUNS
//       RUNS times, each timed: the assigned policy's objects (readPolicyObjects, what a poll re-reads when
//       something changed) and the whole Group Policy read (readForGroupPolicy, a refresh). One line per
//       run: "objects SECONDS ENTRIES full SECONDS ENTRIES".
//   ipsecsvc-ldap-bench poll DOMAIN KEYTAB STATE_DIR CHANGE_COMMAND RUNS
//       The engine as the service runs it: after CHANGE_COMMAND changes one filter list on the DC, the time
//       from the policy poll to the compiled filter table the driver swaps in. One line per run:
//       "poll SECONDS FILTERS".

let tool = "ipsecsvc-ldap-bench"
let arguments = CommandLine.arguments
guard arguments.count >= 5, let runs = Int(arguments.last!), runs > 0 else {
    BenchmarkSupport.fail(tool, "usage: \(tool) read DOMAIN KEYTAB RUNS | poll DOMAIN KEYTAB STATE_DIR COMMAND RUNS")
}
let ldap = LDAPDirectoryConfiguration(
    domain: arguments[2],
    bind: .gssapi(keytab: arguments[3]),
    timeout: .seconds(30)
)
let clock = ContinuousClock()

func seconds(_ duration: Duration) -> String {
    let (whole, fraction) = duration.components
    let value = Double(whole) + Double(fraction) / 1e18
    return String(Int((value * 1000).rounded())) + "e-3"
}

switch arguments[1] {
case "read":
    let reader = LDAPDirectoryReader(configuration: ldap)
    let first: DirectoryRead
    do {
        first = try await reader.readForGroupPolicy()
    } catch {
        BenchmarkSupport.fail(tool, "the directory could not be read: \(error)")
    }
    guard
        let policyDN = GroupPolicyResolver.assignedPolicyDN(
            in: first.tree,
            computerDN: first.computerDN,
            site: first.site
        )
    else { BenchmarkSupport.fail(tool, "no policy is assigned to this computer") }
    for _ in 0..<runs {
        do {
            let start = clock.now
            let objects = try await reader.readPolicyObjects(policyDN)
            let middle = clock.now
            let full = try await reader.readForGroupPolicy()
            let end = clock.now
            print(
                "objects \(seconds(middle - start)) \(objects.count) full \(seconds(end - middle)) \(full.entries.count)"
            )
        } catch {
            BenchmarkSupport.fail(tool, "the directory could not be read: \(error)")
        }
    }

case "poll":
    guard arguments.count == 7 else { BenchmarkSupport.fail(tool, "poll needs DOMAIN KEYTAB STATE_DIR COMMAND RUNS") }
    let engine = SourcesPolicyEngine(
        configuration: SourcesConfiguration(
            state: StateDirectory(path: arguments[4]),
            directory: DirectoryConfiguration(snapshotPath: nil, ldap: ldap, computerDN: nil),
            runsTimers: false,
            firstLocalStore: .leaveMissing
        )
    )
    _ = try await engine.startPersistent()
    let initial = await engine.effectivePolicy()
    guard !initial.filters.isEmpty, let directory = engine.directory else {
        BenchmarkSupport.fail(tool, "no directory policy applies: \(await engine.sourceStatuses())")
    }
    let host = HostInfo(addresses: [IPv4Address(198, 19, 200, 10)])
    for _ in 0..<runs {
        let change = try await ChildProcess.run(Command("/bin/sh", ["-c", arguments[5]]), timeout: .seconds(120))
        guard change.status.succeeded else {
            BenchmarkSupport.fail(tool, "the change command failed: \(change.status)")
        }
        let start = clock.now
        guard await directory.pollPolicy() else { BenchmarkSupport.fail(tool, "the poll saw no change") }
        let policy = await engine.effectivePolicy()
        let table = FilterCompiler.compile(policy, host: host)
        let end = clock.now
        _ = table
        print("poll \(seconds(end - start)) \(policy.filters.count)")
    }

default:
    BenchmarkSupport.fail(tool, "unknown mode \(arguments[1])")
}
