import Keying
import PolicyFormats
import ServiceHost

extension ControlNetshDynamicBackend: NetshSecurityAssociationSource {
    /// `keying.associations` of the running service.
    func securityAssociations() throws(NetshError) -> KeyingAssociations {
        do {
            return try client.send(KeyingAssociationsCommand.self, ControlEmpty())
        } catch {
            if error.code == .notRunning { throw .serviceNotRunning }
            throw NetshError(error.message)
        }
    }
}
