internal import CLibXML2

/// DSMLv2 (OASIS Directory Services Markup Language 2.0) search results read into entries.
///
/// Accepted shapes: `batchResponse` › `searchResponse` › `searchResultEntry`…, a `searchResponse`
/// root, or a bare list (a DSML root element holding `searchResultEntry` children directly, or a single
/// `searchResultEntry`). Values typed `xsd:base64Binary` are decoded; `xsd:anyURI` values (to be
/// fetched) are refused. A failed search (`searchResultDone` with a result code other than 0, or an
/// `errorResponse`) is refused as a whole, because its entries would be an incomplete dump.
/// Documents with a DTD are refused: DSML needs none, and refusing them rules out entity tricks.
public enum DSML {
    /// The DSMLv2 core namespace.
    public static let namespace = "urn:oasis:names:tc:DSML:2:0:core"
    static let schemaInstanceNamespace = "http://www.w3.org/2001/XMLSchema-instance"
    static let xmlSchemaNamespace = "http://www.w3.org/2001/XMLSchema"

    /// Reads every entry of a DSMLv2 document; all or nothing.
    /// - Throws: ``PolicyFormatError`` with the line, the element or attribute, and the entry's DN.
    public static func entries(_ bytes: [UInt8], file: String) throws(PolicyFormatError) -> [DirectoryEntry] {
        let document = try DirectoryXMLDocument(bytes, file: file)
        guard let rootPointer = xmlDocGetRootElement(document.pointer) else {
            throw PolicyFormatError(file: file, line: 1, message: "the document has no root element")
        }
        if document.pointer.pointee.intSubset != nil {
            throw PolicyFormatError(
                file: file,
                line: 1,
                message: "a DSML document must not have a DTD (<!DOCTYPE …>)"
            )
        }
        let root = DirectoryXMLNode(node: rootPointer)
        try checkNamespace(root, file: file)
        var entries: [DirectoryEntry] = []
        try collect(root, into: &entries, file: file)
        return entries
    }

    private static func checkNamespace(_ node: DirectoryXMLNode, file: String) throws(PolicyFormatError) {
        let found = node.namespaceURI
        guard found == namespace else {
            let hint =
                found == "http://www.dsml.org/DSML"
                ? "DSMLv1 is not supported; export DSMLv2 (urn:oasis:names:tc:DSML:2:0:core)"
                : "expected namespace \(namespace), found \(found.map { "'\($0)'" } ?? "none")"
            throw PolicyFormatError(
                file: file,
                line: node.line,
                field: node.localName,
                message: "element <\(node.localName)> is not in the DSMLv2 namespace: \(hint)"
            )
        }
    }

    /// Walks containers (`batchResponse`, `searchResponse`) and collects `searchResultEntry` elements.
    private static func collect(
        _ node: DirectoryXMLNode,
        into entries: inout [DirectoryEntry],
        file: String
    ) throws(PolicyFormatError) {
        try checkNamespace(node, file: file)
        switch node.localName {
        case "batchResponse", "searchResponse":
            for child in node.elementChildren { try collect(child, into: &entries, file: file) }
        case "searchResultEntry":
            entries.append(try entry(node, file: file))
        case "searchResultReference":
            // Referrals to other servers: a dump reader cannot follow them and they carry no entries.
            break
        case "searchResultDone":
            try checkResult(node, file: file)
        case "errorResponse":
            let detail = node.elementChildren.first { $0.localName == "message" }?.textContent ?? ""
            throw PolicyFormatError(
                file: file,
                line: node.line,
                field: "errorResponse",
                message: "the DSML response reports an error\(detail.isEmpty ? "" : ": \(detail)")"
            )
        default:
            throw PolicyFormatError(
                file: file,
                line: node.line,
                field: node.localName,
                message: "unexpected element <\(node.localName)> in a DSML search response"
            )
        }
    }

    private static func checkResult(_ node: DirectoryXMLNode, file: String) throws(PolicyFormatError) {
        guard let result = node.elementChildren.first(where: { $0.localName == "resultCode" }) else { return }
        let code = result.attribute("code") ?? "0"
        guard code == "0" else {
            let detail = node.elementChildren.first { $0.localName == "errorMessage" }?.textContent ?? ""
            throw PolicyFormatError(
                file: file,
                line: result.line,
                field: "resultCode",
                message:
                    "the search ended with result code \(code)\(detail.isEmpty ? "" : " (\(detail))"); the dump is incomplete"
            )
        }
    }

    private static func entry(_ node: DirectoryXMLNode, file: String) throws(PolicyFormatError) -> DirectoryEntry {
        guard let dn = node.attribute("dn") else {
            throw PolicyFormatError(
                file: file,
                line: node.line,
                field: "dn",
                message: "<searchResultEntry> has no dn attribute"
            )
        }
        var entry = DirectoryEntry(dn: dn, line: node.line)
        for child in node.elementChildren {
            try checkNamespace(child, file: file)
            guard child.localName == "attr" else {
                throw PolicyFormatError(
                    file: file,
                    line: child.line,
                    object: dn,
                    field: child.localName,
                    message: "unexpected element <\(child.localName)> in <searchResultEntry>"
                )
            }
            guard let fullName = child.attribute("name"), !fullName.isEmpty else {
                throw PolicyFormatError(
                    file: file,
                    line: child.line,
                    object: dn,
                    field: "attr",
                    message: "<attr> has no name attribute"
                )
            }
            let name = String(fullName.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0])
            var values: [DirectoryValue] = []
            for valueNode in child.elementChildren {
                try checkNamespace(valueNode, file: file)
                guard valueNode.localName == "value" else {
                    throw PolicyFormatError(
                        file: file,
                        line: valueNode.line,
                        object: dn,
                        field: name,
                        message: "unexpected element <\(valueNode.localName)> in <attr>"
                    )
                }
                values.append(try value(valueNode, attribute: name, dn: dn, file: file))
            }
            for value in values { entry.append(name, value, line: child.line) }
            if values.isEmpty { entry.attributes.append(DirectoryAttribute(name: name, values: [], line: child.line)) }
        }
        return entry
    }

    private static func value(
        _ node: DirectoryXMLNode,
        attribute: String,
        dn: String,
        file: String
    ) throws(PolicyFormatError) -> DirectoryValue {
        let text = node.textContent
        let type = node.attribute("type", namespace: schemaInstanceNamespace)
        let localType = type.map { String($0.split(separator: ":").last ?? "") }
        switch localType {
        case nil, "string":
            return .text(text)
        case "base64Binary":
            do {
                return .binary(try Base64.decode(text))
            } catch {
                throw PolicyFormatError(
                    file: file,
                    line: node.line,
                    object: dn,
                    field: attribute,
                    message: "bad base64 value: \(error.message) at character \(error.position + 1) of the value"
                )
            }
        case "anyURI":
            throw PolicyFormatError(
                file: file,
                line: node.line,
                object: dn,
                field: attribute,
                message: "values given by URL (xsd:anyURI) are not read; export the values inline"
            )
        default:
            throw PolicyFormatError(
                file: file,
                line: node.line,
                object: dn,
                field: attribute,
                message: "value type '\(type ?? "")' is not a DSMLv2 value type"
            )
        }
    }
}
