internal import CIPsecPluginABI
import IPsecSystem

#if canImport(Glibc)
import Glibc
#endif

/// The plugin host's side of the protocol: loads one plugin and serves the service's requests.
///
/// Runs in the `ipsecsvc plugin-host` child process (the default), or on a dedicated thread of the
/// service when a plugin's configuration asks for `isolation = in-process`. Blocking by design: it owns
/// its thread, and every plugin call it makes may block.
public enum PluginHostServer {
    /// Largest request accepted from the service (the configuration string).
    static let requestLimit = 1 << 20

    /// Loads the plugin at `pluginPath` and serves requests on the socket `fd` until `close` or the
    /// end of the stream.
    /// - Parameters:
    ///   - fd: a connected stream socket to the service.
    ///   - maxDocumentSize: documents above this size are refused here, before they cross the socket.
    /// - Returns: the exit code for the plugin-host process: 0 after a clean close, 2 when the plugin
    ///   could not be loaded, 3 on a broken connection.
    public static func serve(fd: Int32, pluginPath: String, maxDocumentSize: Int) -> Int32 {
        // A program the plugin runs must not inherit the connection to the service.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let plugin: LoadedPlugin
        do {
            plugin = try LoadedPlugin.load(path: pluginPath)
        } catch {
            try? PluginFrameIO.write(PluginFrame(.error, text: clip(error.description)), to: fd)
            return 2
        }
        do {
            try PluginFrameIO.write(PluginFrame(.hello, plugin.info.encoded), to: fd)
        } catch {
            return 3
        }

        // The change callback may run on any plugin thread and must not block: it writes one byte
        // into a non-blocking pipe that this loop polls, and the loop sends the `changed` frame.
        guard let pipe = try? Descriptors.pipe(nonBlocking: true) else { return 3 }
        let wake = [pipe.read, pipe.write]
        // Both ends stay open for the life of the process: a misbehaving plugin thread may still call the
        // callback after close, and with the read end closed its write would raise SIGPIPE, which in
        // the in-process case would stop the service.
        // Lives as long as the process (or, in-process, leaks 4 bytes per plugin start) for the same reason.
        let context = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        context.initialize(to: wake[1])
        let changed: ipsec_plugin_changed_fn = { context in
            guard let context else { return }
            var byte: UInt8 = 1
            _ = write(context.assumingMemoryBound(to: Int32.self).pointee, &byte, 1)
        }

        var instance: UnsafeMutableRawPointer?
        var isOpen = false
        defer { if isOpen { plugin.close(instance) } }
        while true {
            var fds = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0),
            ]
            if poll(&fds, 2, -1) < 0 {
                if Errno.current == .interrupted { continue }
                return 3
            }
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while read(wake[0], &drain, drain.count) > 0 {}
                if isOpen {
                    do { try PluginFrameIO.write(PluginFrame(.changed), to: fd) } catch { return 3 }
                }
            }
            guard fds[0].revents != 0 else { continue }
            let request: PluginFrame
            do {
                guard let frame = try PluginFrameIO.read(from: fd, limit: requestLimit) else { return 0 }
                request = frame
            } catch {
                return 3
            }
            let reply: PluginFrame
            switch request.kind {
            case .open where !isOpen:
                do {
                    instance = try plugin.open(configuration: request.text, changed: changed, context: context)
                    isOpen = true
                    reply = PluginFrame(.opened)
                } catch {
                    reply = PluginFrame(.error, text: clip(error.message))
                }
            case .fetch where isOpen:
                do {
                    reply = PluginFrame(.document, try plugin.fetch(instance, limit: maxDocumentSize))
                } catch {
                    reply = PluginFrame(.error, text: clip(error.message))
                }
            case .close:
                return 0
            default:
                reply = PluginFrame(.error, text: "unexpected request \(request.kind) (open: \(isOpen))")
            }
            do { try PluginFrameIO.write(reply, to: fd) } catch { return 3 }
        }
    }

    private static func clip(_ message: String) -> String {
        message.utf8.count <= PluginFrame.maxErrorLength
            ? message : String(message.prefix(PluginFrame.maxErrorLength / 4))
    }
}

extension PluginHostServer {
    /// Caps this process's address space (`RLIMIT_AS`) so that a plugin leaking memory fails alone,
    /// quickly, instead of pushing the machine into the OOM killer.
    /// - Returns: `false` when the limit could not be set.
    @discardableResult
    public static func limitAddressSpace(bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        var limit = rlimit(rlim_cur: rlim_t(bytes), rlim_max: rlim_t(bytes))
        return setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0
    }
}
