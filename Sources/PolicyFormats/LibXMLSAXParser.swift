internal import CLibXML2

/// What the SAX parser reports to; called on the parsing thread, synchronously.
protocol LibXMLSAXHandler: AnyObject {
    func startElement(_ element: LibXMLSAXElement)
    func endElement()
}

/// One start tag as libxml2's SAX2 interface delivers it. Valid only during the callback.
struct LibXMLSAXElement {
    let localName: UnsafePointer<xmlChar>
    let attributeCount: Int
    /// Five pointers per attribute: local name, prefix, URI, value start, value end.
    let attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?

    /// Calls `body` with each attribute's local name and value bytes.
    ///
    /// Without entity substitution (never enabled: it is what external entities need) libxml2 hands
    /// `&` over as the character reference `&#38;`; the value passed here has it decoded.
    func forEachAttribute<E: Error>(
        _ body: (_ name: UnsafePointer<xmlChar>, _ value: UnsafeBufferPointer<UInt8>) throws(E) -> Void
    ) throws(E) {
        guard let attributes else { return }
        for index in 0..<attributeCount {
            guard let name = attributes[index * 5], let start = attributes[index * 5 + 3],
                let end = attributes[index * 5 + 4]
            else { continue }
            let value = UnsafeBufferPointer(start: start, count: end - start)
            if value.contains(UInt8(ascii: "&")) {
                let decoded = Self.decodeAmpersands(value)
                try decoded.withUnsafeBufferPointer { buffer throws(E) in try body(name, buffer) }
            } else {
                try body(name, value)
            }
        }
    }

    private static func decodeAmpersands(_ value: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let reference = Array("&#38;".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        var index = 0
        while index < value.count {
            if value[index] == UInt8(ascii: "&"), index + 5 <= value.count,
                value[index..<index + 5].elementsEqual(reference)
            {
                out.append(UInt8(ascii: "&"))
                index += 5
            } else {
                out.append(value[index])
                index += 1
            }
        }
        return out
    }
}

/// libxml2's SAX2 parser over a memory buffer, with XML Schema validation plugged into the event
/// stream (`xmlSchemaSAXPlug`): one pass, no tree, memory independent of the document's size.
///
/// The parser context is our own (`xmlCreateIOParserCtxt`), so errors come through handlers set on
/// this context and this validation context only, never libxml2's global handler. (libxml2 2.9's
/// `xmlTextReader` cannot be used for this: with a schema plugged in, its error relay dereferences
/// the plug as if it were the parser context and crashes on the first malformed byte.)
final class LibXMLSAXParser {
    let errors = LibXMLErrorSink()
    private let context: xmlParserCtxtPtr
    private let validation: xmlSchemaValidCtxtPtr
    private let input: InputCursor
    /// Set during ``parse(handler:)`` only.
    @exclusivity(unchecked) private var handler: (any LibXMLSAXHandler)?

    /// Reads the caller's buffer in pieces without copying it whole.
    private final class InputCursor {
        let bytes: UnsafeBufferPointer<UInt8>
        @exclusivity(unchecked) var offset = 0
        init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }
    }

    /// Network access off; entity substitution, DTD loading, XInclude and huge mode never on; the
    /// document is UTF-8 whatever its declaration says (the caller has checked the first bytes).
    static let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_IGNORE_ENC.rawValue)

    /// - Returns: `nil` when libxml2 cannot allocate its contexts.
    init?(buffer: UnsafeBufferPointer<UInt8>, schema: LibXMLSchema) {
        LibXML.initialize()
        input = InputCursor(buffer)
        guard let validation = xmlSchemaNewValidCtxt(schema.pointer) else { return nil }
        var sax = xmlSAXHandler()
        sax.initialized = XML_SAX2_MAGIC
        sax.startElementNs = { userData, localName, _, _, _, _, attributeCount, _, attributes in
            guard let userData, let localName else { return }
            let parser = Unmanaged<LibXMLSAXParser>.fromOpaque(userData).takeUnretainedValue()
            parser.handler?.startElement(
                LibXMLSAXElement(
                    localName: localName,
                    attributeCount: Int(attributeCount),
                    attributes: attributes
                )
            )
        }
        sax.endElementNs = { userData, _, _, _ in
            guard let userData else { return }
            Unmanaged<LibXMLSAXParser>.fromOpaque(userData).takeUnretainedValue().handler?.endElement()
        }
        sax.serror = Self.parserError
        let read: xmlInputReadCallback = { cursor, destination, length in
            guard let cursor, let destination else { return -1 }
            let input = Unmanaged<InputCursor>.fromOpaque(cursor).takeUnretainedValue()
            let count = min(Int(length), input.bytes.count - input.offset)
            guard count > 0, let base = input.bytes.baseAddress else { return 0 }
            UnsafeMutableRawPointer(destination).copyMemory(from: base + input.offset, byteCount: count)
            input.offset += count
            return Int32(count)
        }
        guard
            let context = xmlCreateIOParserCtxt(
                &sax,
                nil,
                read,
                nil,
                Unmanaged.passUnretained(input).toOpaque(),
                XML_CHAR_ENCODING_UTF8
            )
        else {
            xmlSchemaFreeValidCtxt(validation)
            return nil
        }
        self.context = context
        self.validation = validation
        xmlCtxtUseOptions(context, Self.options)
        // Stop at the first error: the rest of a broken document is not worth reading.
        errors.stop = { xmlStopParser(context) }
    }

    deinit {
        xmlFreeParserCtxt(context)
        xmlSchemaFreeValidCtxt(validation)
    }

    /// Parses and validates the whole buffer, calling the handler for each element, and stops at the
    /// first error (see ``errors``) or when ``stop()`` is called.
    /// - Returns: whether the document was well-formed and valid.
    func parse(handler: any LibXMLSAXHandler) -> Bool {
        self.handler = handler
        defer { self.handler = nil }
        let me = Unmanaged.passUnretained(self).toOpaque()
        context.pointee.userData = me
        context.pointee._private = me
        let base = UnsafeMutableRawPointer(context)
        let saxField = base + MemoryLayout<xmlParserCtxt>.offset(of: \.sax)!
        let userDataField = base + MemoryLayout<xmlParserCtxt>.offset(of: \.userData)!
        guard
            let plug = xmlSchemaSAXPlug(
                validation,
                saxField.assumingMemoryBound(to: xmlSAXHandlerPtr?.self),
                userDataField.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
            )
        else { return false }
        defer { xmlSchemaSAXUnplug(plug) }
        // The plug's handler block does not carry `serror` over; without it, parse errors would go
        // to libxml2's generic (global) channel.
        context.pointee.sax.pointee.serror = Self.parserError
        xmlSchemaSetValidStructuredErrors(validation, LibXMLErrorSink.handler, errors.context)
        xmlSchemaValidateSetLocator(
            validation,
            { parserContext, file, line in
                guard let parserContext else { return -1 }
                let context = parserContext.assumingMemoryBound(to: xmlParserCtxt.self)
                file?.pointee = nil
                line?.pointee = UInt(max(0, context.pointee.input?.pointee.line ?? 0))
                return 0
            },
            UnsafeMutableRawPointer(context)
        )
        let result = xmlParseDocument(context)
        return result == 0 && context.pointee.wellFormed == 1 && xmlSchemaIsValid(validation) == 1
    }

    /// Stops parsing after the current callback.
    func stop() { xmlStopParser(context) }

    /// Line the parser has reached: for a start tag, the line where it ends.
    var line: Int { Int(context.pointee.input?.pointee.line ?? 0) }

    /// Whether `name` is interned in the parser's dictionary, so its address is unique and stays
    /// valid for the whole parse.
    func isInterned(_ name: UnsafePointer<xmlChar>) -> Bool {
        guard let dictionary = context.pointee.dict else { return false }
        return xmlDictOwns(dictionary, name) == 1
    }

    /// Parse errors arrive with the plug as `userData`; the parser context they carry leads back to us.
    private static let parserError: xmlStructuredErrorFunc = { _, error in
        guard let error, let raw = error.pointee.ctxt else { return }
        let context = raw.assumingMemoryBound(to: xmlParserCtxt.self)
        guard let me = context.pointee._private else { return }
        let parser = Unmanaged<LibXMLSAXParser>.fromOpaque(me).takeUnretainedValue()
        LibXMLErrorSink.handler(parser.errors.context, error)
    }
}

/// Maps libxml2's interned name pointers to an enumeration without building a `String` per node.
///
/// The parser's dictionary interns element and attribute names, so the same name arrives as the same
/// pointer; only names the parser confirms as interned are remembered, in a small open-addressing table
/// keyed by the pointer itself (one or two probes, no hashing of the name). The table stops learning
/// at half its size, so a document full of made-up names cannot grow it.
final class LibXMLNameTable<Name: RawRepresentable> where Name.RawValue == String {
    private static var capacity: Int { 1024 }
    /// Used by the parsing thread only (see ``NativeXMLDecoder``): no runtime exclusivity checks.
    @exclusivity(unchecked) private var keys = [UnsafeRawPointer?](repeating: nil, count: capacity)
    @exclusivity(unchecked) private var names = [Name?](repeating: nil, count: capacity)
    @exclusivity(unchecked) private var count = 0

    func lookup(_ pointer: UnsafePointer<xmlChar>, in parser: LibXMLSAXParser) -> Name? {
        let key = UnsafeRawPointer(pointer)
        let mask = Self.capacity - 1
        var slot = Int(bitPattern: UInt(bitPattern: key) >> 3 ^ UInt(bitPattern: key) >> 13) & mask
        while let known = keys[slot] {
            if known == key { return names[slot] }
            slot = (slot + 1) & mask
        }
        let name = Name(rawValue: String(cString: pointer))
        if count < Self.capacity / 2, parser.isInterned(pointer) {
            keys[slot] = key
            names[slot] = name
            count += 1
        }
        return name
    }
}
