// Plugins owns the versioned C ABI for third-party policy providers (the `CIPsecPluginABI` header
// product), the loader, the plugin host that runs plugins outside the service's process, and the
// adapter that makes a plugin a `PolicyProvider`.
