import PolicyModel

/// Turns the parser's validated stream of elements into a ``PolicyStore``.
///
/// The schema checks structure, types, keys and references while libxml2 parses; this type builds the
/// model, resolves `<include>`s (refusing cycles) and gives every problem a line and column.
///
/// Its state is touched only from the parser's callbacks, on the one thread that parses: the stored
/// properties opt out of the runtime exclusivity checks, which cost more than the decoding itself on
/// every element and attribute.
final class NativeXMLDecoder: LibXMLSAXHandler {
    let source: NativeXMLSource
    let parser: LibXMLSAXParser
    let limits: NativePolicyXML.Limits

    let elements = LibXMLNameTable<NativeXMLElement>()
    let attributes = LibXMLNameTable<NativeXMLAttribute>()
    /// Open elements with the line their start tag ends on.
    @exclusivity(unchecked) var open: [(element: NativeXMLElement, line: Int)] = []
    @exclusivity(unchecked) var lastClosed: (element: NativeXMLElement, line: Int)?
    @exclusivity(unchecked) var sawRoot = false
    /// The start tag being handled.
    @exclusivity(unchecked) var current: LibXMLSAXElement?
    /// Our own first problem; the schema validator still sees the element before we stop, so that
    /// its (usually more precise) message wins when it has one.
    @exclusivity(unchecked) var failure: PolicyFormatError? {
        didSet { if failure != nil { failing = true } }
    }
    @exclusivity(unchecked) var outcome: PolicyFormatError? {
        didSet { if outcome != nil { failing = true } }
    }
    /// Whether ``failure`` or ``outcome`` is set: tested on every event without copying either.
    @exclusivity(unchecked) private var failing = false

    @exclusivity(unchecked) var lists: [NativeXMLFilterListDraft] = []
    @exclusivity(unchecked) var filterActions: [FilterAction] = []
    @exclusivity(unchecked) var policies: [IPsecPolicy] = []
    @exclusivity(unchecked) var assignedPolicyID: IPsecGUID?
    @exclusivity(unchecked) var references: [NativeXMLReference] = []

    // The objects being read, innermost last.
    @exclusivity(unchecked) var list: NativeXMLFilterListDraft?
    @exclusivity(unchecked) var filter: Filter?
    @exclusivity(unchecked) var side: NativeXMLElement = .source
    @exclusivity(unchecked) var action: FilterAction?
    @exclusivity(unchecked) var offer: SecurityOffer?
    @exclusivity(unchecked) var policy: IPsecPolicy?
    @exclusivity(unchecked) var rule: Rule?

    init(source: NativeXMLSource, parser: LibXMLSAXParser, limits: NativePolicyXML.Limits) {
        self.source = source
        self.parser = parser
        self.limits = limits
    }

    func decode() throws(PolicyFormatError) -> PolicyStore {
        let valid = parser.parse(handler: self)
        if let outcome { throw outcome }
        if let captured = parser.errors.first {
            if isKeyref(captured), let dangling = danglingReference() { throw dangling }
            throw error(from: captured)
        }
        if let failure { throw failure }
        guard valid, sawRoot, open.isEmpty else {
            throw source.error(line: parser.line, "the document is incomplete or not valid")
        }
        let filterLists = try NativeXMLIncludes(source: source, lists: lists, limits: limits).resolve()
        return PolicyStore(
            policies: policies,
            filterLists: filterLists,
            filterActions: filterActions,
            assignedPolicyID: assignedPolicyID
        )
    }

    // MARK: - SAX events

    func startElement(_ element: LibXMLSAXElement) {
        guard settleFailure() else { return }
        do throws(PolicyFormatError) {
            if open.count >= limits.maxDepth {
                throw source.error(line: parser.line, "elements nested deeper than \(limits.maxDepth)")
            }
            guard let name = elements.lookup(element.localName, in: parser) else {
                throw failure(element: String(cString: element.localName), "unknown element")
            }
            current = element
            defer { current = nil }
            open.append((name, parser.line))
            try start(name)
        } catch {
            failure = error
        }
    }

    func endElement() {
        guard settleFailure(), let (element, line) = open.popLast() else { return }
        lastClosed = (element, line)
        do throws(PolicyFormatError) {
            try end(element)
        } catch {
            failure = error
        }
    }

    /// After our own failure, the next event decides between it and the validator's message for the
    /// same element, then stops the parser. - Returns: whether to go on.
    private func settleFailure() -> Bool {
        if !failing { return true }
        guard let failure else { return outcome == nil }
        if outcome == nil { outcome = parser.errors.first.map(error(from:)) ?? failure }
        parser.stop()
        return false
    }

    private func end(_ element: NativeXMLElement) throws(PolicyFormatError) {
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
        var line = captured.line
        // Identity constraints are checked when an element ends; point at where it starts.
        if message.contains("Duplicate key-sequence"), let lastClosed,
            Self.quoted(after: "Element '", in: message) == lastClosed.element.rawValue
        {
            line = lastClosed.line
        }
        message = Self.friendlier(message)
        if message.contains("No matching global declaration available for the validation root") {
            message = "the root element must be 'policyStore' in namespace \(NativePolicyXML.namespace): " + message
        }
        guard captured.column <= 0 else {
            return source.error(line: line, column: captured.column, message)
        }
        return source.error(
            line: line,
            element: Self.quoted(after: "Element '", in: message),
            attribute: Self.quoted(after: "attribute '", in: message),
            message
        )
    }

    /// An error about the current element; a schema error already reported takes precedence, since
    /// it explains why the value could not be used.
    func failure(element: String, attribute: String? = nil, _ message: String) -> PolicyFormatError {
        if let captured = parser.errors.first { return error(from: captured) }
        let subject = attribute.map { "element '\(element)', attribute '\($0)'" } ?? "element '\(element)'"
        return source.error(line: parser.line, element: element, attribute: attribute, subject + ": " + message)
    }

    /// libxml2 quotes the schema's regular expressions; name what they stand for instead.
    private static func friendlier(_ message: String) -> String {
        if message.hasPrefix("Input is not proper UTF-8") {
            return "the document is not valid UTF-8: "
                + (message.firstRange(of: "Bytes:").map { String(message[$0.lowerBound...]) } ?? message)
        }
        if message.contains("Huge input lookup") || message.contains("AttValue length too long") {
            return "a text is longer than the parser accepts (10 000 000 characters); the schema's limits are far lower"
        }
        // `The value 'xxxx…' has a length of '2000'; this exceeds the allowed maximum length of '1024'.`:
        // the value itself can be megabytes; say how long it is instead.
        if let facet = message.firstRange(of: "[facet 'maxLength'] The value '") {
            let subject = String(message[..<facet.lowerBound])
            guard let length = message.firstRange(of: "' has a length of '"),
                let maximum = message.firstRange(of: "'; this exceeds the allowed maximum length of '")
            else {
                // libxml2 cuts long messages short before the numbers.
                return subject + "the value is longer than the limit (docs/xml-format.md, \"Security and limits\")."
            }
            let count = message[length.upperBound...].prefix { $0 != "'" }
            let limit = message[maximum.upperBound...].prefix { $0 != "'" }
            return subject + "\(count) characters is longer than the limit of \(limit)."
        }
        guard let facet = message.firstRange(of: "[facet 'pattern'] "),
            let pattern = message.firstRange(of: " is not accepted by the pattern '")
        else { return message }
        let expected =
            if message[pattern.upperBound...].hasPrefix("\\{") {
                "a GUID in braces ({xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx})"
            } else if message[pattern.upperBound...].contains("25[0-5]") {
                "a dotted IPv4 address (0-255 in each part)"
            } else {
                "a UTC time (YYYY-MM-DDThh:mm:ssZ) or a number of seconds"
            }
        return String(message[..<facet.lowerBound]) + String(message[facet.upperBound..<pattern.lowerBound])
            + " is not " + expected + "."
    }

    private static func quoted(after marker: String, in message: String) -> String? {
        guard let start = message.firstRange(of: marker)?.upperBound,
            let end = message[start...].firstIndex(of: "'")
        else { return nil }
        var name = message[start..<end]
        if let brace = name.lastIndex(of: "}") { name = name[name.index(after: brace)...] }
        return String(name.split(separator: ":").last ?? name)
    }
}
