import IPsecTestKit
import PolicyModel
import Providers
import ServiceHost

/// An agent over an in-memory driver, a recording keying and journal, and a test engine in a temporary
/// directory (the test removes it): the set-up of the policy hand-over suites.
struct HandOverFixture {
    let directory = TemporaryDirectory()
    let driver = InMemoryDriver()
    let keying = RecordingKeying()
    let journal = RecordingJournal()
    let engine: SourcesPolicyEngine
    let agent: PolicyAgent

    init(waitAtStop: Duration = PolicyAgent.stopWaitLimit(stopTimeoutSeconds: 20)) {
        engine = TestEngine.make(in: directory)
        agent = PolicyAgent(
            driver: driver,
            engine: engine,
            keying: keying,
            journal: journal,
            startType: .automatic,
            settings: DynamicSettings(),
            handOverWaitAtStop: waitAtStop
        )
    }
}
