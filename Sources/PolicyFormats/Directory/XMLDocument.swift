internal import CLibXML2

/// A parsed libxml2 document that frees itself; the only owner of the C handles in this folder.
///
/// Parsing follows swift-style.md §4.10: a parser context, `XML_PARSE_NONET`, never `XML_PARSE_NOENT`
/// or `XML_PARSE_HUGE`, and the error read from the context.
final class DirectoryXMLDocument {
    let pointer: xmlDocPtr

    /// Parses `bytes` (the encoding comes from the XML declaration or byte-order mark).
    /// - Throws: ``PolicyFormatError`` with libxml2's line, column and message.
    init(_ bytes: [UInt8], file: String) throws(PolicyFormatError) {
        guard let context = xmlNewParserCtxt() else {
            throw PolicyFormatError(file: file, message: "cannot create an XML parser (out of memory)")
        }
        defer { xmlFreeParserCtxt(context) }
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOWARNING.rawValue | XML_PARSE_NOERROR.rawValue)
        let document = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.flatMap { base in
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { chars in
                    xmlCtxtReadMemory(context, chars, Int32(clamping: buffer.count), file, nil, options)
                }
            }
        }
        guard let document, context.pointee.wellFormed != 0 else {
            if let document { xmlFreeDoc(document) }
            let error = xmlCtxtGetLastError(context)
            let line = error.map { Int($0.pointee.line) }
            let column = error.map { Int($0.pointee.int2) }
            let message = error.flatMap { $0.pointee.message }.map { String(cString: $0).trimmingSpacesAndNewlines }
            throw PolicyFormatError(
                file: file,
                line: line.flatMap { $0 > 0 ? $0 : nil } ?? 1,
                column: column.flatMap { $0 > 0 ? $0 : nil },
                message: "not well-formed XML: \(message ?? "empty document")"
            )
        }
        pointer = document
    }

    deinit { xmlFreeDoc(pointer) }
}

/// A libxml2 element node, valid while its ``DirectoryXMLDocument`` lives.
///
/// A wrapper rather than an extension of `xmlNodePtr`, so that other XML code in this module can have
/// its own helpers without clashing.
struct DirectoryXMLNode {
    let node: xmlNodePtr

    private var pointee: xmlNode { node.pointee }

    /// The element's local name.
    var localName: String { pointee.name.map { String(cString: $0) } ?? "" }

    /// The element's namespace URI, if it has one.
    var namespaceURI: String? { pointee.ns?.pointee.href.map { String(cString: $0) } }

    /// The 1-based line of the element's start tag.
    var line: Int { Int(xmlGetLineNo(node)) }

    /// The element children in document order.
    var elementChildren: [DirectoryXMLNode] {
        var result: [DirectoryXMLNode] = []
        var child = pointee.children
        while let element = child {
            if element.pointee.type == XML_ELEMENT_NODE { result.append(DirectoryXMLNode(node: element)) }
            child = element.pointee.next
        }
        return result
    }

    /// The concatenated text and CDATA children (entity references are not expanded).
    var textContent: String {
        var bytes: [UInt8] = []
        var child = pointee.children
        while let text = child {
            if text.pointee.type == XML_TEXT_NODE || text.pointee.type == XML_CDATA_SECTION_NODE,
                let content = text.pointee.content
            {
                var cursor = content
                while cursor.pointee != 0 {
                    bytes.append(cursor.pointee)
                    cursor += 1
                }
            }
            child = text.pointee.next
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value of the attribute `name`, unqualified or in `namespace`.
    func attribute(_ name: String, namespace: String? = nil) -> String? {
        var property = pointee.properties
        while let attr = property {
            let attrName = attr.pointee.name.map { String(cString: $0) } ?? ""
            let attrNamespace = attr.pointee.ns?.pointee.href.map { String(cString: $0) }
            if attrName == name, attrNamespace == namespace {
                var bytes: [UInt8] = []
                var child = attr.pointee.children
                while let text = child {
                    if var cursor = text.pointee.content {
                        while cursor.pointee != 0 {
                            bytes.append(cursor.pointee)
                            cursor += 1
                        }
                    }
                    child = text.pointee.next
                }
                return String(decoding: bytes, as: UTF8.self)
            }
            property = attr.pointee.next
        }
        return nil
    }
}

extension String {
    /// The text without leading and trailing white space, including line ends.
    fileprivate var trimmingSpacesAndNewlines: String {
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        var view = String.UnicodeScalarView(unicodeScalars.drop(while: isSpace))
        while let last = view.last, isSpace(last) { view.removeLast() }
        return String(view)
    }
}
