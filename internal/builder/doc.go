// Package builder owns a build from start to end: Open opens a state dir (its layout is
// the builder's alone), and Run takes one Request — inputs (a context dir, a Git URL or
// stdin, and a Dockerfile), build args, secrets, platforms and sinks — and, for each
// platform, plans it, builds every stage the target needs (independent stages
// concurrently, steps reused from the cache when their inputs are unchanged), adds its
// provenance, audits every layer it built, reused or started from (and the provenance)
// for the secret values, and only then hands the images to the sinks and exports its
// cache records (--cache-to). hush build, bake and steps are thin callers of Run; one
// Builder serves concurrent Runs, each in a session of its own (scratch dir, lease,
// journal entries). After each Run it collects garbage by the state dir's policy; Prune
// and DiskUsage serve hush prune and du.
//
// It owns the order of work, the build cache lookups (local, then --cache-from caches,
// whose layers it fetches, verified, and audits as its own), the self-audit, the purge of
// what leaked, and what may leave the machine in a cache export. It must never interpret
// Dockerfile syntax (that is plan's), write image or cache formats (image's, sink's and
// remotecache's), publish an image or export a layer that was not audited, export a key
// bound to this machine's fingerprint key, hold a secret value in a cache key, an error or
// a log line, or let one Run audit, purge or release what another Run holds.
package builder
