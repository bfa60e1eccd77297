import PolicyModel

/// Turns the reader's validated stream of nodes into a ``PolicyStore``.
///
/// The schema checks structure, types, keys and references while libxml2 reads; this type builds the
/// model, resolves `<include>`s (refusing cycles) and gives every problem a line and column.
struct NativeXMLDecoder {
    let source: NativeXMLSource
    let reader: LibXMLReader
    let limits: NativePolicyXML.Limits

    let elements = LibXMLNameTable<NativeXMLElement>()
    let attributes = LibXMLNameTable<NativeXMLAttribute>()
    var open: [NativeXMLElement] = []
    var sawRoot = false

    var lists: [NativeXMLFilterListDraft] = []
    var filterActions: [FilterAction] = []
    var policies: [IPsecPolicy] = []
    var assignedPolicyID: IPsecGUID?
    var references: [NativeXMLReference] = []

    // The objects being read, innermost last.
    var list: NativeXMLFilterListDraft?
    var filter: Filter?
    var side: NativeXMLElement = .source
    var action: FilterAction?
    var offer: SecurityOffer?
    var policy: IPsecPolicy?
    var rule: Rule?

    init(source: NativeXMLSource, reader: LibXMLReader, limits: NativePolicyXML.Limits) {
        self.source = source
        self.reader = reader
        self.limits = limits
    }

    mutating func decode() throws(PolicyFormatError) -> PolicyStore {
        while let node = reader.advance() {
            if let captured = reader.errors.first, !isKeyref(captured) { throw error(from: captured) }
            switch node {
            case .documentType:
                throw source.error(line: reader.line, "a DOCTYPE is not allowed (no DTDs or entities)")
            case .element(let name, let isEmpty):
                if reader.depth >= limits.maxDepth {
                    throw source.error(line: reader.line, "elements nested deeper than \(limits.maxDepth)")
                }
                guard let element = elements.lookup(name, in: reader) else {
                    throw failure(element: String(cString: name), "unknown element")
                }
                try start(element)
                if isEmpty { try end(element) } else { open.append(element) }
            case .endElement:
                guard let element = open.popLast() else { continue }
                try end(element)
            case .other:
                continue
            }
        }
        if let captured = reader.errors.first {
            if isKeyref(captured), let dangling = danglingReference() { throw dangling }
            throw error(from: captured)
        }
        guard sawRoot, open.isEmpty, reader.isValid else {
            throw source.error(line: reader.line, "the document is incomplete or not valid")
        }
        let filterLists = try NativeXMLIncludes(source: source, lists: lists, limits: limits).resolve()
        return PolicyStore(
            policies: policies,
            filterLists: filterLists,
            filterActions: filterActions,
            assignedPolicyID: assignedPolicyID
        )
    }

    private mutating func end(_ element: NativeXMLElement) throws(PolicyFormatError) {
        switch element {
        case .filter:
            if let filter { list?.list.filters.append(filter) }
            filter = nil
        case .filterList:
            if let list { lists.append(list) }
            list = nil
        case .offer:
            if let offer { action?.offers.append(offer) }
            offer = nil
        case .filterAction:
            if let action { filterActions.append(action) }
            action = nil
        case .rule:
            if let rule { policy?.rules.append(rule) }
            rule = nil
        case .policy:
            if let policy { policies.append(policy) }
            policy = nil
        default:
            break
        }
    }

    // MARK: - Errors

    /// libxml2 reports keyref failures only when the root element closes, so their line is the last
    /// one; ``danglingReference()`` finds the reference itself.
    private func isKeyref(_ captured: LibXMLErrorSink.Captured) -> Bool {
        captured.isValidityError && captured.message.contains("of keyref")
    }

    private func danglingReference() -> PolicyFormatError? {
        let listIDs = Set(lists.map(\.list.id))
        let actionIDs = Set(filterActions.map(\.id))
        let policyIDs = Set(policies.map(\.id))
        for reference in references {
            let known: Set<IPsecGUID> =
                switch reference.target {
                case .filterList: listIDs
                case .filterAction: actionIDs
                case .policy: policyIDs
                }
            if !known.contains(reference.id) {
                return source.error(
                    line: reference.line,
                    element: reference.element.rawValue,
                    attribute: reference.attribute.rawValue,
                    "element '\(reference.element.rawValue)', attribute '\(reference.attribute.rawValue)': "
                        + "no \(reference.target.rawValue) has the GUID \(reference.id.braced)"
                )
            }
        }
        return nil
    }

    func error(from captured: LibXMLErrorSink.Captured) -> PolicyFormatError {
        var message = captured.message
        if message.contains("No matching global declaration available for the validation root") {
            message = "the root element must be 'policyStore' in namespace \(NativePolicyXML.namespace): " + message
        }
        guard captured.column <= 0 else {
            return source.error(line: captured.line, column: captured.column, message)
        }
        return source.error(
            line: captured.line,
            element: Self.quoted(after: "Element '", in: message),
            attribute: Self.quoted(after: "attribute '", in: message),
            message
        )
    }

    /// An error about the current element; a schema error already reported takes precedence, since
    /// it explains why the value could not be used.
    func failure(element: String, attribute: String? = nil, _ message: String) -> PolicyFormatError {
        if let captured = reader.errors.first { return error(from: captured) }
        let subject = attribute.map { "element '\(element)', attribute '\($0)'" } ?? "element '\(element)'"
        return source.error(line: reader.line, element: element, attribute: attribute, subject + ": " + message)
    }

    private static func quoted(after marker: String, in message: String) -> String? {
        guard let start = message.firstRange(of: marker)?.upperBound,
            let end = message[start...].firstIndex(of: "'")
        else { return nil }
        let name = message[start..<end]
        return String(name.split(separator: ":").last ?? name)
    }
}
