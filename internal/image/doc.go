// Package image owns hush's images: the local OCI-layout store (names,
// blobs, index.json), resolving base images for FROM for a platform (store
// first, then a registry; an image pulled for another platform than the one a
// name is on is kept beside it, unnamed), composing images and indexes as
// BuildKit's exporter writes them (attestation manifests too), the output sinks (OCI layout, OCI archive, docker archive,
// flattened rootfs as a directory or a tar), and the history view used by
// `hush history`.
//
// It must never run build steps, never read or hold build secrets, never
// leave a half-written output under a final name (every sink to a path goes
// through internal/outfile: a temporary name beside the destination, renamed
// at the end; the Stream* sinks write to a caller's writer), and never
// rewrite index.json in place: changes happen under a file lock and land via
// temp file + rename, so several goroutines and several hush processes can
// share one store.
package image
