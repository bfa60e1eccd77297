// Providers owns the `PolicyProvider` protocol and the provider registry, the built-in providers
// (persistent, directory/AD-XML, directory cache, local, dynamic), the durable stores, the
// `PolicyMerger` that builds the effective policy with provenance, and explain.
