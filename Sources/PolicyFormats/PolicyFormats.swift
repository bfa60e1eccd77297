// PolicyFormats reads and writes policies: the native XML format (libxml2) and its schema, the Windows
// `ipsecData` blobs, registry exports (`.reg`) and directory entries (LDIF and DSMLv2); other modules
// add their formats to a `PolicyFile` table. Every reader returns typed errors with a location (file,
// line or byte offset, field) and never a partial result.
