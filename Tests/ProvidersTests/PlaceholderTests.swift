import Providers
import Testing

@Suite struct ProvidersModuleTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
