/// One vici packet (strongSwan's vici README, "Packet layer").
public enum ViciPacket: Hashable, Sendable {
    /// CMD_REQUEST (0): a named command with its arguments.
    case request(String, ViciMessage)
    /// CMD_RESPONSE (1): the answer to the one outstanding command.
    case response(ViciMessage)
    /// CMD_UNKNOWN (2): the daemon has no such command.
    case unknownCommand
    /// EVENT_REGISTER (3).
    case register(String)
    /// EVENT_UNREGISTER (4).
    case unregister(String)
    /// EVENT_CONFIRM (5): a (de)registration succeeded.
    case confirm
    /// EVENT_UNKNOWN (6): no such event.
    case unknownEvent
    /// EVENT (7): a named event message.
    case event(String, ViciMessage)
}

/// Why bytes are not a valid vici packet or message, or a message cannot be encoded.
public enum ViciWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The segment length exceeds vici's limit of 512 KiB.
    case segmentTooLong(Int)
    /// A name longer than 255 bytes, or a value longer than 65,535 bytes.
    case fieldTooLong(String)
    /// The packet or message ends inside an element.
    case truncated(offset: Int)
    /// An unknown packet type.
    case unknownPacketType(UInt8)
    /// An unknown element type, or an element where it may not appear.
    case malformed(String, offset: Int)

    public var description: String {
        switch self {
        case .segmentTooLong(let length): "vici segment of \(length) bytes exceeds the 512 KiB limit"
        case .fieldTooLong(let what): "vici \(what) is too long to encode"
        case .truncated(let offset): "vici message truncated at byte \(offset)"
        case .unknownPacketType(let type): "unknown vici packet type \(type)"
        case .malformed(let what, let offset): "malformed vici message at byte \(offset): \(what)"
        }
    }
}

/// The vici wire format: length-prefixed segments, typed packets, element-encoded messages.
public enum ViciWire {
    /// The daemon's segment limit (512 KiB, length field excluded).
    public static let maximumSegment = 512 * 1024

    enum PacketType: UInt8 {
        case request = 0
        case response = 1
        case unknownCommand = 2
        case register = 3
        case unregister = 4
        case confirm = 5
        case unknownEvent = 6
        case event = 7
    }

    enum ElementType: UInt8 {
        case sectionStart = 1
        case sectionEnd = 2
        case keyValue = 3
        case listStart = 4
        case listItem = 5
        case listEnd = 6
    }

    /// The segment (length prefix included) that carries `packet`.
    public static func frame(_ packet: ViciPacket) throws(ViciWireError) -> [UInt8] {
        var payload: [UInt8] = []
        switch packet {
        case .request(let name, let message):
            payload.append(PacketType.request.rawValue)
            try appendName(name, to: &payload)
            try encode(message, into: &payload)
        case .response(let message):
            payload.append(PacketType.response.rawValue)
            try encode(message, into: &payload)
        case .unknownCommand: payload.append(PacketType.unknownCommand.rawValue)
        case .register(let name):
            payload.append(PacketType.register.rawValue)
            try appendName(name, to: &payload)
        case .unregister(let name):
            payload.append(PacketType.unregister.rawValue)
            try appendName(name, to: &payload)
        case .confirm: payload.append(PacketType.confirm.rawValue)
        case .unknownEvent: payload.append(PacketType.unknownEvent.rawValue)
        case .event(let name, let message):
            payload.append(PacketType.event.rawValue)
            try appendName(name, to: &payload)
            try encode(message, into: &payload)
        }
        guard payload.count <= maximumSegment else { throw .segmentTooLong(payload.count) }
        let length = UInt32(payload.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + payload
    }

    /// Decodes one segment's payload (without the length prefix).
    public static func packet(_ payload: [UInt8]) throws(ViciWireError) -> ViciPacket {
        guard let first = payload.first else { throw .truncated(offset: 0) }
        guard let type = PacketType(rawValue: first) else { throw .unknownPacketType(first) }
        var offset = 1
        func name() throws(ViciWireError) -> String { try readName(payload, &offset) }
        func rest() throws(ViciWireError) -> ViciMessage { try decode(payload[offset...]) }
        switch type {
        case .request:
            let command = try name()
            return .request(command, try rest())
        case .response: return .response(try rest())
        case .unknownCommand: return .unknownCommand
        case .register: return .register(try name())
        case .unregister: return .unregister(try name())
        case .confirm: return .confirm
        case .unknownEvent: return .unknownEvent
        case .event:
            let event = try name()
            return .event(event, try rest())
        }
    }

    /// The element encoding of `message`.
    public static func encode(_ message: ViciMessage) throws(ViciWireError) -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(message, into: &bytes)
        return bytes
    }

    static func encode(_ message: ViciMessage, into bytes: inout [UInt8]) throws(ViciWireError) {
        for (name, element) in message.entries {
            switch element {
            case .value(let value):
                bytes.append(ElementType.keyValue.rawValue)
                try appendName(name, to: &bytes)
                try appendValue(value, to: &bytes)
            case .list(let items):
                bytes.append(ElementType.listStart.rawValue)
                try appendName(name, to: &bytes)
                for item in items {
                    bytes.append(ElementType.listItem.rawValue)
                    try appendValue(item, to: &bytes)
                }
                bytes.append(ElementType.listEnd.rawValue)
            case .section(let section):
                bytes.append(ElementType.sectionStart.rawValue)
                try appendName(name, to: &bytes)
                try encode(section, into: &bytes)
                bytes.append(ElementType.sectionEnd.rawValue)
            }
        }
    }

    /// Decodes an element sequence: sections balanced, lists flat and closed.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(ViciWireError) -> ViciMessage {
        let data = Array(bytes)
        var offset = 0
        var stack: [(name: String, message: ViciMessage)] = [("", ViciMessage())]
        var list: (name: String, items: [[UInt8]])?
        while offset < data.count {
            let at = offset
            guard let type = ElementType(rawValue: data[offset]) else {
                throw .malformed("unknown element type \(data[offset])", offset: at)
            }
            offset += 1
            if list != nil && type != .listItem && type != .listEnd {
                throw .malformed("element inside a list", offset: at)
            }
            switch type {
            case .sectionStart:
                stack.append((try readName(data, &offset), ViciMessage()))
            case .sectionEnd:
                guard stack.count > 1 else { throw .malformed("section end without a section", offset: at) }
                let closed = stack.removeLast()
                stack[stack.count - 1].message[closed.name] = .section(closed.message)
            case .keyValue:
                let name = try readName(data, &offset)
                stack[stack.count - 1].message[name] = .value(try readValue(data, &offset))
            case .listStart:
                list = (try readName(data, &offset), [])
            case .listItem:
                guard list != nil else { throw .malformed("list item outside a list", offset: at) }
                list!.items.append(try readValue(data, &offset))
            case .listEnd:
                guard let done = list else { throw .malformed("list end without a list", offset: at) }
                stack[stack.count - 1].message[done.name] = .list(done.items)
                list = nil
            }
        }
        guard list == nil, stack.count == 1 else { throw .truncated(offset: data.count) }
        return stack[0].message
    }

    static func appendName(_ name: String, to bytes: inout [UInt8]) throws(ViciWireError) {
        let utf8 = Array(name.utf8)
        guard utf8.count <= 255 else { throw .fieldTooLong("name \"\(name.prefix(40))…\"") }
        bytes.append(UInt8(utf8.count))
        bytes += utf8
    }

    static func appendValue(_ value: [UInt8], to bytes: inout [UInt8]) throws(ViciWireError) {
        guard value.count <= 0xFFFF else { throw .fieldTooLong("value of \(value.count) bytes") }
        bytes.append(UInt8(value.count >> 8))
        bytes.append(UInt8(value.count & 0xFF))
        bytes += value
    }

    static func readName(_ data: [UInt8], _ offset: inout Int) throws(ViciWireError) -> String {
        guard offset < data.count else { throw .truncated(offset: offset) }
        let length = Int(data[offset])
        guard offset + 1 + length <= data.count else { throw .truncated(offset: offset) }
        let name = String(decoding: data[(offset + 1)..<(offset + 1 + length)], as: UTF8.self)
        offset += 1 + length
        return name
    }

    static func readValue(_ data: [UInt8], _ offset: inout Int) throws(ViciWireError) -> [UInt8] {
        guard offset + 2 <= data.count else { throw .truncated(offset: offset) }
        let length = Int(data[offset]) << 8 | Int(data[offset + 1])
        guard offset + 2 + length <= data.count else { throw .truncated(offset: offset) }
        let value = Array(data[(offset + 2)..<(offset + 2 + length)])
        offset += 2 + length
        return value
    }
}

/// Cuts a byte stream into vici segments: feed it what the socket delivered, take whole packets.
public struct ViciFrameReader: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    /// Appends received bytes.
    public mutating func append<C: Collection<UInt8>>(_ bytes: C) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole packet, `nil` when more bytes are needed.
    /// - Throws: ``ViciWireError`` for an oversized segment or a malformed packet; the stream is then
    ///   out of step and must be closed.
    public mutating func next() throws(ViciWireError) -> ViciPacket? {
        guard buffer.count - start >= 4 else { return nil }
        let length =
            Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8
            | Int(buffer[start + 3])
        guard length <= ViciWire.maximumSegment else { throw .segmentTooLong(length) }
        guard buffer.count - start >= 4 + length else { return nil }
        let payload = Array(buffer[(start + 4)..<(start + 4 + length)])
        start += 4 + length
        if start > 65536 {
            buffer.removeFirst(start)
            start = 0
        }
        return try ViciWire.packet(payload)
    }
}
