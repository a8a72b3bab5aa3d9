// Package builder is the orchestrator: for each stage the target needs it resolves the base,
// and for each step it prepares mounts, executes, snapshots and appends the result to the
// image, reusing cached steps; independent stages run concurrently.
//
// It owns the order of work and the build cache lookups. It must never interpret Dockerfile
// syntax (that is plan's), write image formats (image's), or hold a secret value in a cache
// key, an error or a log line.
package builder
