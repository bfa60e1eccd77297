import PolicyFormats
import Testing

@Suite struct PolicyFormatsModuleTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
