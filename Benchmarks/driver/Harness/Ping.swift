import Foundation

/// `ipsecsvc-driver-harness ping ADDRESS [COUNT] [TIMEOUT_MS]`: ICMP echo over a raw socket, for
/// tests on hosts without `ping`. Exits 0 when at least one echo reply from ADDRESS arrived.
func runPing(_ arguments: [String]) -> Int32 {
    guard let target = arguments.first, let address = inet_addr_checked(target) else { return 2 }
    let count = arguments.count > 1 ? Int(arguments[1]) ?? 1 : 1
    let timeoutMs = arguments.count > 2 ? Int(arguments[2]) ?? 1000 : 1000
    let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMP))
    guard fd >= 0 else { return 3 }
    defer { close(fd) }
    var timeout = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var destination = sockaddr_in()
    destination.sin_family = sa_family_t(AF_INET)
    destination.sin_addr.s_addr = address
    let identifier = UInt16(truncatingIfNeeded: getpid())
    var replies = 0
    for sequence in 0..<count {
        var packet = [UInt8](repeating: 0, count: 16)
        packet[0] = 8
        packet[4] = UInt8(identifier >> 8)
        packet[5] = UInt8(identifier & 0xFF)
        packet[6] = UInt8(sequence >> 8 & 0xFF)
        packet[7] = UInt8(sequence & 0xFF)
        var sum: UInt32 = 0
        for index in stride(from: 0, to: packet.count, by: 2) {
            sum += UInt32(packet[index]) << 8 | UInt32(packet[index + 1])
        }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        packet[2] = UInt8(checksum >> 8)
        packet[3] = UInt8(checksum & 0xFF)
        _ = withUnsafePointer(to: &destination) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        var buffer = [UInt8](repeating: 0, count: 1500)
        while Date() < deadline {
            let received = recv(fd, &buffer, buffer.count, 0)
            guard received > 0 else { break }
            let headerLength = Int(buffer[0] & 0x0F) * 4
            guard received >= headerLength + 8 else { continue }
            let source =
                UInt32(buffer[12]) | UInt32(buffer[13]) << 8 | UInt32(buffer[14]) << 16 | UInt32(buffer[15]) << 24
            let replyIdentifier = UInt16(buffer[headerLength + 4]) << 8 | UInt16(buffer[headerLength + 5])
            if buffer[headerLength] == 0, source == address, replyIdentifier == identifier {
                replies += 1
                break
            }
        }
    }
    FileHandle.standardOutput.write(Data("ping \(target): \(replies)/\(count) replies\n".utf8))
    return replies > 0 ? 0 : 1
}

/// `inet_addr` that rejects invalid text (network byte order result).
func inet_addr_checked(_ text: String) -> in_addr_t? {
    var address = in_addr()
    guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
    return address.s_addr
}
