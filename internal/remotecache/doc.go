// Package remotecache owns hush's build cache outside one machine: the `--cache-to` and
// `--cache-from` specs in buildx's spellings (type=registry, local, inline), the cache
// manifest format (docs/spec/cache-export.md: an OCI artifact whose config lists cache
// records and whose layers are the very blobs of the images, so a registry stores them
// once), exporting a build's records to a registry or a directory, or inline in the image's
// manifest, and importing them: looking a key up and fetching its layer, digest- and
// diffID-verified.
//
// It never decides what may be exported — the builder hands it only records whose layers
// passed the build's self-audit and whose keys are portable — and never writes into hush's
// stores: Fetch streams a verified blob to the caller's writer. Registry credentials come
// from the caller (internal/registry's one credential path); this package must never read,
// print or store one, and never put a secret value in a manifest, an error or a log line.
package remotecache
