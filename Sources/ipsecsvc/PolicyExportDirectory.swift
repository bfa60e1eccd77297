import Foundation
import IPsecSystem
import PolicyFormats
import Providers
import ServiceHost

/// `ipsecsvc policy export --from-directory FILE`: reads the directory as the service's directory source
/// does and writes every object read, so a case can be reproduced offline with `directory = snapshot`.
enum DirectoryExport {
    static func run(file: String, format: PolicyFileFormat?, options: HostOptions) async throws {
        await reportingFailures("ExportPolicy") {
            let format = format ?? PolicyFiles.all.format(forPath: file) ?? .ldif
            guard format == .ldif || format == .dsml else {
                throw CommandFailure.message(
                    "ipsecsvc: --from-directory writes ldif or dsml, not \(format.rawValue)",
                    exitCode: 2
                )
            }
            let configuration = try options.load()
            guard let directory = PolicyEngineFactory.directoryConfiguration(configuration),
                let reader = directory.makeReader()
            else {
                throw CommandFailure.message(
                    "ipsecsvc: no directory is configured in \(configuration.configPath ?? "the configuration") "
                        + "(set 'directory = ldap' and 'domain', or 'directory = snapshot' and 'computer_dn')"
                )
            }
            if let check = directory.reachability, let reason = await check.unreachableReason() {
                throw CommandFailure.message("ipsecsvc: the directory cannot be reached: \(reason)")
            }
            let read: DirectoryRead
            do throws(DirectoryReadError) {
                read = try await reader.readForGroupPolicy()
            } catch {
                throw CommandFailure.message("ipsecsvc: the directory could not be read: \(error.description)")
            }
            let bytes = format == .dsml ? DSML.write(read.entries) : LDIF.write(read.entries)
            if file == "-" {
                FileHandle.standardOutput.write(Data(bytes))
                return
            }
            do throws(SystemError) {
                try DurableFile.write(bytes, to: file, permissions: 0o644)
            } catch {
                throw CommandFailure.message("ipsecsvc: \(error)")
            }
            print(
                """
                Wrote \(read.entries.count) objects read from \(read.server) to \(file).
                To read them offline: directory = snapshot, directory_snapshot = \(file), \
                computer_dn = \(read.computerDN)\(read.site.map { ", site = \($0)" } ?? "").
                """
            )
        }
    }
}
