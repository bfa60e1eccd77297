// Plugins owns the versioned C ABI for third-party policy providers (the `CIPsecPluginABI` header
// product), the loader, the plugin host that runs plugins outside the service's process, and the
// adapter that makes a plugin a `PolicyProvider`.
//
// Map: PluginConfiguration (plugins.d files) → PluginManager → PluginSupervisor (one per enabled
// plugin: spawns `ipsecsvc plugin-host` through PluginConnection, speaks PluginFrame, validates
// documents with PluginDocumentValidator, restarts with backoff) → PluginSourceState (last valid policy
// or failure) → PluginProvider (the engine's view). PluginHostServer + LoadedPlugin are the plugin-host
// side (dlopen, ABI checks, open/fetch/close).
