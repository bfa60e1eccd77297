internal import CLibXML2

/// A compiled XML Schema.
///
/// `@unchecked Sendable`: the `xmlSchema` is never modified after compilation, and libxml2 keeps all
/// per-validation state in the validation context each reader creates, so one compiled schema serves
/// concurrent reads.
final class LibXMLSchema: @unchecked Sendable {
    let pointer: xmlSchemaPtr

    /// Compiles a schema held in memory; it must not import or include other files.
    /// - Returns: `nil` with the first error's message when the schema does not compile.
    static func compile(_ text: String) -> Result<LibXMLSchema, LibXMLSchemaError> {
        LibXML.initialize()
        let sink = LibXMLErrorSink()
        var bytes = Array(text.utf8)
        let compiled: xmlSchemaPtr? = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                guard let parser = xmlSchemaNewMemParserCtxt(chars.baseAddress, Int32(chars.count)) else {
                    return nil
                }
                defer { xmlSchemaFreeParserCtxt(parser) }
                xmlSchemaSetParserStructuredErrors(parser, LibXMLErrorSink.handler, sink.context)
                return xmlSchemaParse(parser)
            }
        }
        guard let compiled else {
            return .failure(LibXMLSchemaError(message: sink.first?.message ?? "the schema does not compile"))
        }
        return .success(LibXMLSchema(pointer: compiled))
    }

    private init(pointer: xmlSchemaPtr) {
        self.pointer = pointer
    }

    deinit { xmlSchemaFree(pointer) }
}

/// The embedded schema failed to compile: a build defect, never caused by input.
struct LibXMLSchemaError: Error {
    var message: String
}

/// Process-wide libxml2 set-up.
enum LibXML {
    private static let initialized: Bool = {
        // Sets up libxml2's global tables once, before any parse on any thread.
        xmlInitParser()
        return true
    }()

    static func initialize() { _ = initialized }
}
