internal import CLibXML2

/// A streaming libxml2 reader (`xmlTextReader`) that validates against a schema while it reads.
///
/// Streaming keeps memory near the size of the model: libxml2 frees each subtree once the reader has
/// moved past it, where a DOM would hold the whole tree (several times the file size) at once.
/// The input buffer must outlive the reader; libxml2 reads it in place.
final class LibXMLReader {
    /// What the reader stands on after ``advance()``.
    enum Node {
        case element(name: UnsafePointer<xmlChar>, isEmpty: Bool)
        case endElement
        case documentType
        case other
    }

    let errors = LibXMLErrorSink()
    private let reader: xmlTextReaderPtr
    private let validation: xmlSchemaValidCtxtPtr

    /// Parser options: no network, no entity substitution, no DTD loading, no XInclude, no huge mode.
    static let options: Int32 = Int32(
        XML_PARSE_NONET.rawValue | XML_PARSE_NOBLANKS.rawValue | XML_PARSE_COMPACT.rawValue
            | XML_PARSE_BIG_LINES.rawValue
    )

    /// - Returns: `nil` when libxml2 cannot allocate a reader or the buffer exceeds its 2 GiB limit.
    init?(buffer: UnsafeBufferPointer<UInt8>, url: String, schema: LibXMLSchema) {
        LibXML.initialize()
        guard let base = buffer.baseAddress, buffer.count <= Int(Int32.max),
            let validation = xmlSchemaNewValidCtxt(schema.pointer)
        else { return nil }
        let made = base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { chars in
            xmlReaderForMemory(chars, Int32(buffer.count), url, "UTF-8", Self.options)
        }
        guard let made else {
            xmlSchemaFreeValidCtxt(validation)
            return nil
        }
        reader = made
        self.validation = validation
        xmlTextReaderSetStructuredErrorHandler(reader, LibXMLErrorSink.handler, errors.context)
        guard xmlTextReaderSchemaValidateCtxt(reader, validation, 0) == 0 else { return nil }
        // Set after plugging the validator in: this is the handler validity errors reach.
        xmlSchemaSetValidStructuredErrors(validation, LibXMLErrorSink.handler, errors.context)
    }

    deinit {
        // The reader unplugs the validator but leaves the context it was given to us.
        xmlFreeTextReader(reader)
        xmlSchemaFreeValidCtxt(validation)
    }

    /// Moves to the next node. The corresponding C function is `xmlTextReaderRead`.
    /// - Returns: the node, `nil` at the end of the document or on a fatal parse error (see ``errors``).
    func advance() -> Node? {
        guard xmlTextReaderRead(reader) == 1 else { return nil }
        switch xmlTextReaderNodeType(reader) {
        case Int32(XML_READER_TYPE_ELEMENT.rawValue):
            guard let name = xmlTextReaderConstLocalName(reader) else { return .other }
            return .element(name: name, isEmpty: xmlTextReaderIsEmptyElement(reader) == 1)
        case Int32(XML_READER_TYPE_END_ELEMENT.rawValue):
            return .endElement
        case Int32(XML_READER_TYPE_DOCUMENT_TYPE.rawValue):
            return .documentType
        default:
            return .other
        }
    }

    /// Whether the document was valid so far (`xmlTextReaderIsValid`).
    var isValid: Bool { xmlTextReaderIsValid(reader) == 1 }

    /// Nesting depth of the current node; the root element is 0.
    var depth: Int { Int(xmlTextReaderDepth(reader)) }

    /// Line of the current node (exact beyond 65 535 thanks to `XML_PARSE_BIG_LINES`).
    var line: Int {
        guard let node = xmlTextReaderCurrentNode(reader) else { return Int(xmlTextReaderGetParserLineNumber(reader)) }
        return Int(xmlGetLineNo(node))
    }

    /// Whether `name` is interned in the document's dictionary, so that its address stays unique and
    /// valid until the reader is freed.
    func isInterned(_ name: UnsafePointer<xmlChar>) -> Bool {
        guard let document = xmlTextReaderCurrentDoc(reader), let dictionary = document.pointee.dict else {
            return false
        }
        return xmlDictOwns(dictionary, name) == 1
    }

    /// Calls `body` with each attribute of the current element (namespace declarations skipped).
    /// The pointers are valid only during the call.
    func forEachAttribute<E: Error>(
        _ body: (_ name: UnsafePointer<xmlChar>, _ value: UnsafeBufferPointer<UInt8>) throws(E) -> Void
    ) throws(E) {
        guard xmlTextReaderMoveToFirstAttribute(reader) == 1 else { return }
        defer { xmlTextReaderMoveToElement(reader) }
        repeat {
            if xmlTextReaderIsNamespaceDecl(reader) != 1, let name = xmlTextReaderConstLocalName(reader),
                let value = xmlTextReaderConstValue(reader)
            {
                try body(name, UnsafeBufferPointer(start: value, count: Int(xmlStrlen(value))))
            }
        } while xmlTextReaderMoveToNextAttribute(reader) == 1
    }
}

/// Maps libxml2's interned name pointers to an enumeration without building a `String` per node.
///
/// The reader's dictionary interns element and attribute names, so the same name arrives as the same
/// pointer; only names the reader confirms as interned are remembered. The table stops learning after a
/// few hundred entries, so a document full of made-up names cannot grow it without bound.
final class LibXMLNameTable<Name: RawRepresentable> where Name.RawValue == String {
    private var known: [UnsafeRawPointer: Name?] = [:]

    func lookup(_ pointer: UnsafePointer<xmlChar>, in reader: LibXMLReader) -> Name? {
        let key = UnsafeRawPointer(pointer)
        if let hit = known[key] { return hit }
        let name = Name(rawValue: String(cString: pointer))
        if known.count < 512, reader.isInterned(pointer) { known[key] = name }
        return name
    }
}
