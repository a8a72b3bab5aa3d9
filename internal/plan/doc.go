// Package plan turns a parsed Dockerfile into the stages a build needs and, step by step,
// into fully expanded actions: ARG/ENV expansion, the stage graph, the image config each
// instruction produces and the history line it leaves. Expansion is bounded
// (MaxValueBytes, MaxEnvBytes): a Dockerfile whose values would grow past them fails at its
// line before the oversized string is built.
//
// Data flows one way: New reads the parsed file once into a Plan (stage graph, global
// ARGs, target), and a State applies a stage's instructions into new Steps and its own
// image config. Nothing modifies a Plan or the instructions it holds after New (apart from
// the record of consumed --build-args behind UnusedBuildArgs, kept under a lock), so one
// Plan can be walked any number of times — the required-secrets check, then the build —
// and by several States at once.
//
// It owns the meaning of instructions. It must never do I/O (no files, no processes, no
// network), never see secret values (secrets appear here only as ids that a step mounts),
// and never call one of BuildKit's Expand methods on a parsed instruction: they rewrite it
// in place.
package plan
