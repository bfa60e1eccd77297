// ipsecsvc-keying-bench: the keying benchmark's measuring tool (Benchmarks/keying/run.sh runs it).
//
//   ipsecsvc-keying-bench load VICI_SOCKET [PEERS] [ROUNDS]
//       loads PEERS peers' negotiate rules into the charon at VICI_SOCKET through the keying engine,
//       then changes one rule, ROUNDS times; prints one `key value` line per figure.
//   ipsecsvc-keying-bench echo PORT
//       answers every UDP datagram on PORT with the same bytes (the peer's end), until killed.
//   ipsecsvc-keying-bench first-packet PEER PORT [-- COMMAND ARGUMENTS... | --vici SOCKET IKE CHILD]
//       sends a numbered UDP datagram to PEER:PORT every millisecond and prints the milliseconds from
//       the first datagram to the first one the peer echoed; at the first datagram it starts COMMAND,
//       or calls vici `initiate` for IKE and CHILD on a connection to SOCKET opened beforehand.
import IPsecTestKit

let arguments = Array(CommandLine.arguments.dropFirst())
let usage = """
    usage: ipsecsvc-keying-bench load VICI_SOCKET [PEERS] [ROUNDS]
           ipsecsvc-keying-bench echo PORT
           ipsecsvc-keying-bench first-packet PEER PORT [-- COMMAND ARGUMENTS... | --vici SOCKET IKE CHILD]
    """

switch arguments.first {
case "load":
    guard arguments.count >= 2 else { BenchmarkSupport.fail("ipsecsvc-keying-bench", usage) }
    let peers = arguments.count > 2 ? Int(arguments[2]) ?? 1000 : 1000
    let rounds = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3
    await LoadBench.run(viciSocket: arguments[1], peers: peers, rounds: rounds)
case "echo":
    guard arguments.count == 2, let port = UInt16(arguments[1]) else {
        BenchmarkSupport.fail("ipsecsvc-keying-bench", usage)
    }
    FirstPacket.echo(port: port)
case "first-packet":
    guard arguments.count >= 3, let port = UInt16(arguments[2]) else {
        BenchmarkSupport.fail("ipsecsvc-keying-bench", usage)
    }
    var starter = FirstPacket.Starter.none
    if arguments.count == 7, arguments[3] == "--vici" {
        starter = .vici(socket: arguments[4], ike: arguments[5], child: arguments[6])
    } else if arguments.count > 4, arguments[3] == "--" {
        starter = .command(Array(arguments[4...]))
    } else if arguments.count != 3 {
        BenchmarkSupport.fail("ipsecsvc-keying-bench", usage)
    }
    await FirstPacket.measure(peer: arguments[1], port: port, starting: starter)
default:
    BenchmarkSupport.fail("ipsecsvc-keying-bench", usage)
}
