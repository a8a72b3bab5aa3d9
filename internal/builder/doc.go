// Package builder owns a build from start to end: Open opens a state dir (its layout is
// the builder's alone), and Run takes one Request — inputs (a context dir, a Git URL or
// stdin, and a Dockerfile), build args, secrets, platforms and sinks — and, for each
// platform, plans it, builds every stage the target needs (independent stages
// concurrently, steps reused from the cache when their inputs are unchanged), adds its
// provenance, audits every layer it built, reused or started from (and the provenance)
// for the secret values, and only then hands the images to the sinks. hush build, bake and
// steps are thin callers of Run.
//
// It owns the order of work, the build cache lookups, the self-audit and the purge of what
// leaked. It must never interpret Dockerfile syntax (that is plan's), write image formats
// (image's and sink's), publish an image that was not audited, or hold a secret value in a
// cache key, an error or a log line.
package builder
