import Plugins
import Testing

@Suite struct PluginsModuleTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
