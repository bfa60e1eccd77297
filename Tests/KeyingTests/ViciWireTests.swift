import Foundation
import Keying
import Testing

/// Frames recorded from charon 5.9.8 (Fixtures/README.md).
enum RecordedFrames {
    struct Frame {
        var connection: Int
        var fromClient: Bool
        var bytes: [UInt8]
    }

    static let all: [Frame] = {
        let path = #filePath.replacingOccurrences(of: "ViciWireTests.swift", with: "Fixtures/charon-5.9.8-frames.jsonl")
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let connection = object["conn"] as? Int, let direction = object["dir"] as? String,
                let hex = object["hex"] as? String
            else { return nil }
            return Frame(connection: connection, fromClient: direction == "c2s", bytes: bytes(hex))
        }
    }()

    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    /// Every packet of the recording, decoded.
    static func packets() throws -> [(frame: Frame, packet: ViciPacket)] {
        try all.map { frame in
            var reader = ViciFrameReader()
            reader.append(frame.bytes)
            return (frame, try #require(try reader.next()))
        }
    }
}

@Suite struct ViciWireTests {
    @Test func recordedSessionIsComplete() {
        #expect(RecordedFrames.all.count == 36)
    }

    @Test func everyRecordedFrameDecodesAndEncodesToTheSameBytes() throws {
        for (frame, packet) in try RecordedFrames.packets() {
            #expect(try ViciWire.frame(packet) == frame.bytes, "frame of connection \(frame.connection): \(packet)")
        }
    }

    @Test func recordedVersionResponse() throws {
        let packets = try RecordedFrames.packets()
        #expect(packets[0].packet == .request("version", ViciMessage()))
        guard case .response(let message) = packets[1].packet else {
            Issue.record("no response: \(packets[1].packet)")
            return
        }
        #expect(message.string("daemon") == "charon-systemd")
        #expect(message.string("version") == "5.9.8")
    }

    @Test func recordedListSAEventCarriesTheNegotiatedSA() throws {
        let event = try RecordedFrames.packets().compactMap { entry -> ViciMessage? in
            if case .event("list-sa", let message) = entry.packet { message } else { nil }
        }.first
        let sa = try #require(event?.section("win"))
        #expect(sa.string("state") == "ESTABLISHED")
        #expect(sa.string("encr-alg") == "3DES_CBC")
        #expect(sa.string("dh-group") == "MODP_1024")
        #expect(sa.string("responder-spi") != "0000000000000000")
        let child = try #require(sa.section("child-sas")?.sections.first?.message)
        #expect(child.string("name") == "host")
        #expect(child.string("mode") == "TUNNEL")
        #expect(child.strings("remote-ts") == ["198.18.77.2/32"])
    }

    @Test func recordedUnknownCommandAndEvent() throws {
        let packets = try RecordedFrames.packets().map(\.packet)
        #expect(packets.contains(.unknownCommand))
        #expect(packets.contains(.unknownEvent))
    }

    @Test func readmeEncodingExample() throws {
        // The encoding example of strongSwan's vici README, byte for byte.
        let message: ViciMessage = [
            "key1": "value1",
            "section1": ["sub-section": ["key2": "value2"], "list1": ["item1", "item2"]],
        ]
        let expected: [UInt8] =
            [3, 4] + Array("key1".utf8) + [0, 6] + Array("value1".utf8) + [1, 8] + Array("section1".utf8) + [1, 11]
            + Array("sub-section".utf8) + [3, 4] + Array("key2".utf8) + [0, 6] + Array("value2".utf8) + [2, 4, 5]
            + Array("list1".utf8) + [5, 0, 5] + Array("item1".utf8) + [5, 0, 5] + Array("item2".utf8) + [6, 2]
        #expect(try ViciWire.encode(message) == expected)
        #expect(try ViciWire.decode(expected[...]) == message)
    }

    @Test func binaryValuesSurvive() throws {
        var message = ViciMessage()
        message["cert"] = .value([0, 1, 2, 255, 0x30, 0x82])
        message["certs"] = .list([[0xFF, 0], []])
        #expect(try ViciWire.decode(try ViciWire.encode(message)[...]) == message)
    }

    @Test func orderIsKeptAndNamesAreUnique() {
        var message: ViciMessage = ["b": "1", "a": "2"]
        message["b"] = "3"
        #expect(message.names == ["b", "a"])
        #expect(message.string("b") == "3")
        message["b"] = nil
        #expect(message.names == ["a"])
    }

    @Test(
        arguments: [
            ([1, 3] + Array("abc".utf8), "section never closed"),
            ([2], "section end without a section"),
            ([5, 0, 1, 65], "list item outside a list"),
            ([4, 1, 65, 3, 1, 66, 0, 0, 6], "key inside a list"),
            ([3, 1, 65, 0, 9, 65], "value shorter than its length"),
            ([9], "unknown element type"),
            ([6], "list end without a list"),
        ] as [([UInt8], String)]
    )
    func malformedMessagesAreRejected(bytes: [UInt8], why: String) {
        #expect(throws: ViciWireError.self, "\(why)") { try ViciWire.decode(bytes[...]) }
    }

    @Test func oversizedSegmentIsRejectedBeforeItIsBuffered() {
        var reader = ViciFrameReader()
        reader.append([0x00, 0x08, 0x00, 0x01])
        #expect(throws: ViciWireError.segmentTooLong(0x80001)) { try reader.next() }
    }

    @Test func unknownPacketTypeIsRejected() {
        #expect(throws: ViciWireError.unknownPacketType(9)) { try ViciWire.packet([9]) }
    }

    @Test func tooLongNamesAndValuesCannotBeEncoded() {
        let longName = String(repeating: "n", count: 256)
        #expect(throws: ViciWireError.self) { try ViciWire.encode([longName: "x"]) }
        var message = ViciMessage()
        message["big"] = .value([UInt8](repeating: 0, count: 65536))
        #expect(throws: ViciWireError.self) { try ViciWire.encode(message) }
    }

    @Test func framesArrivingInPiecesAndTogether() throws {
        let first = try ViciWire.frame(.request("version", ViciMessage()))
        let second = try ViciWire.frame(.event("log", ["msg": "hello"]))
        let stream = first + second
        var reader = ViciFrameReader()
        var packets: [ViciPacket] = []
        for byte in stream {
            reader.append([byte])
            while let packet = try reader.next() { packets.append(packet) }
        }
        #expect(packets == [.request("version", ViciMessage()), .event("log", ["msg": "hello"])])
        reader.append(stream)
        #expect(try reader.next() == .request("version", ViciMessage()))
        #expect(try reader.next() == .event("log", ["msg": "hello"]))
        #expect(try reader.next() == nil)
    }
}
