import ServiceHost
import Testing

@Suite struct ServiceHostModuleTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
