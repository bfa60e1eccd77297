/*
 * ipsec_plugin.h: the contract between ipsecsvc and a third-party policy-source plugin.
 *
 * A plugin is a shared object that exports ONE function, `ipsec_plugin_entry_v1`, returning a
 * pointer to a static `ipsec_plugin_v1` table. Everything else is reached through that table.
 * Only C types cross this boundary, so a plugin can be written in any language that can export a
 * C function (C, C++ with extern "C", Rust, Zig, Swift through IPsecPluginKit, ...).
 *
 * What a plugin does: it is one policy source. The host opens it with a configuration string,
 * asks it for the current policy as a document in ipsecsvc's native XML format (the same format,
 * schema and validation as `ipsecsvc policy import`), and asks again whenever the plugin signals a
 * change or its poll interval elapses. The host closes it when the service stops or the plugin is
 * disabled. See docs/plugins.md for the lifecycle, threading rules and error contract.
 *
 * Versioning: IPSEC_PLUGIN_ABI_VERSION changes whenever the meaning of an existing field changes or a
 * field is removed; the entry symbol's name carries the same number, so a plugin built for another
 * version is not even found. Fields may be added at the END of the table without changing the version:
 * the host reads `struct_size` and treats fields beyond it as absent (zero). The host checks
 * `abi_version` and `struct_size` before it calls anything else in the table.
 *
 * This header has no dependencies beyond <stdint.h> and <stddef.h> and does not change with the
 * host's toolchain.
 */
#ifndef IPSEC_PLUGIN_H
#define IPSEC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define IPSEC_PLUGIN_ABI_VERSION 1u

/* The name of the one symbol a plugin exports (see ipsec_plugin_entry_v1_fn). */
#define IPSEC_PLUGIN_ENTRY_SYMBOL "ipsec_plugin_entry_v1"

/* Export helper for C plugins built with -fvisibility=hidden: mark the entry function with it. */
#if defined(__GNUC__) || defined(__clang__)
#define IPSEC_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define IPSEC_PLUGIN_EXPORT
#endif

/* Recommended capacity of the error buffers the host passes to open and fetch (bytes, with the NUL). */
#define IPSEC_PLUGIN_ERROR_CAPACITY 1024u

/*
 * How the plugin's policy combines with the built-in sources (ipsec_plugin_v1.kind).
 */
typedef enum ipsec_plugin_kind {
    /* Merged on top of whatever else applies, like dynamic rules: its filters add to the effective
       policy. Rank orders several additive plugins among themselves (lower rank merges first). */
    IPSEC_PLUGIN_KIND_ADDITIVE = 1,
    /* Competes with the directory, directory-cache and local sources: of all such sources that have a
       policy, the one with the best (lowest) rank supplies the assigned policy, the others stand by. */
    IPSEC_PLUGIN_KIND_DIRECTORY_LIKE = 2
} ipsec_plugin_kind;

/*
 * Return codes of open and fetch.
 */
typedef enum ipsec_plugin_result {
    /* Success; the out-parameters are set. */
    IPSEC_PLUGIN_OK = 0,
    /* Failure; the plugin wrote a NUL-terminated, one-line, human-readable reason into `error`. */
    IPSEC_PLUGIN_ERROR = -1
} ipsec_plugin_result;

/*
 * Change notification from the plugin to the host. The host passes this function and `host_context`
 * to open. The plugin calls it, with that `host_context`, whenever its policy may have changed; the
 * host then calls fetch soon (never from inside the callback). It may be called from ANY thread,
 * any number of times (calls may be coalesced), from the moment open returns OK until close returns.
 * It never blocks and never calls back into the plugin.
 */
typedef void (*ipsec_plugin_changed_fn)(void *host_context);

/*
 * The plugin's table. It must have static lifetime (the host never frees it) and must not change
 * after the entry function returned it.
 */
typedef struct ipsec_plugin_v1 {
    /* Must be IPSEC_PLUGIN_ABI_VERSION of the header the plugin was compiled against. */
    uint32_t abi_version;
    /* Must be sizeof(ipsec_plugin_v1) of that header; the host refuses a table smaller than its v1 size. */
    uint32_t struct_size;

    /* Short identifier, [A-Za-z0-9._-], 1-64 characters (e.g. "cmdb"). Shown as the source
       "plugin:<name>" unless the configuration file renames it. NUL-terminated, static. */
    const char *name;
    /* The plugin's own version, free text (e.g. "1.2.0"). NUL-terminated, static. */
    const char *version;
    /* An ipsec_plugin_kind value. */
    uint32_t kind;
    /* Rank used when the configuration file does not set one. Lower ranks win: directory-like plugins
       compete with the built-in sources, whose ranks are documented in docs/plugins.md. */
    int32_t default_rank;
    /* Seconds between fetches the host makes on its own; 0 means the plugin relies on the change
       callback only. The configuration file may override it. */
    uint32_t poll_interval_seconds;
    /* Zero. Keeps the pointers below 8-byte aligned on every ABI; reserved for flags. */
    uint32_t reserved;
    /* NULL for plugins not written in Swift. Swift plugins (IPsecPluginKit fills it) name the Swift
       compiler they were built with ("swift-6.3"); the host refuses one that differs from its own,
       because Swift's ABI is not stable on Linux. */
    const char *swift_toolchain;

    /*
     * Opens one instance with the configuration string: the `option.*` lines of the plugin's file in
     * /etc/ipsecsvc/plugins.d/, as "key=value" lines separated by '\n', in file order, with the
     * "option." prefix removed (empty string when there are none; never NULL).
     * On success: stores an opaque instance pointer in *instance (may be NULL if the plugin needs
     * none) and returns IPSEC_PLUGIN_OK. On failure: writes a reason into `error` (at most
     * `error_capacity` bytes with the NUL) and returns IPSEC_PLUGIN_ERROR; close is not called.
     * `changed` and `host_context` stay valid until close returns.
     * Called once per instance, before any fetch.
     */
    int32_t (*open)(
        const char *configuration,
        ipsec_plugin_changed_fn changed,
        void *host_context,
        void **instance,
        char *error,
        size_t error_capacity);

    /*
     * Produces the current policy: a complete native XML document (UTF-8, root <policyStore> in the
     * namespace "urn:ipsecsvc:policy:1"), or an empty store when the source has nothing to say.
     * On success: sets *document and *length (bytes, no NUL needed) and returns IPSEC_PLUGIN_OK. The
     * buffer belongs to the plugin and must stay valid and unchanged until the next fetch or close
     * on the same instance. On failure: writes a reason into `error` and returns IPSEC_PLUGIN_ERROR;
     * the source is then marked failed with that reason.
     * The host calls fetch from one thread at a time per instance, never concurrently with another
     * fetch or close of that instance; it may be a different thread each time. A fetch should return
     * within the configured timeout (default 10 seconds); a plugin that takes longer is killed.
     */
    int32_t (*fetch)(
        void *instance,
        const char **document,
        size_t *length,
        char *error,
        size_t error_capacity);

    /*
     * Releases the instance and everything it owns, including the last document. After it returns the
     * plugin must not call `changed` any more (stop and join its own threads first).
     * Called once, never concurrently with fetch. May be skipped when the host process exits.
     */
    void (*close)(void *instance);
} ipsec_plugin_v1;

/*
 * The entry point a plugin exports under the name IPSEC_PLUGIN_ENTRY_SYMBOL. The host passes its own
 * IPSEC_PLUGIN_ABI_VERSION; the plugin returns its table, or NULL when it cannot serve that version.
 * It must not do any other work (no threads, no I/O): the host may call it only to read the table
 * (`ipsecsvc plugin-host --check`). C plugins:
 *
 *     IPSEC_PLUGIN_EXPORT const ipsec_plugin_v1 *ipsec_plugin_entry_v1(uint32_t host_abi_version);
 */
typedef const ipsec_plugin_v1 *(*ipsec_plugin_entry_v1_fn)(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* IPSEC_PLUGIN_H */
