// Package plan turns a parsed Dockerfile into the stages a build needs and, step by step,
// into fully expanded actions: ARG/ENV expansion, the stage graph, the image config each
// instruction produces and the history line it leaves. Expansion is bounded
// (MaxValueBytes, MaxEnvBytes): a Dockerfile whose values would grow past them fails at its
// line before the oversized string is built.
//
// It owns the meaning of instructions. It must never do I/O (no files, no processes, no
// network) and never see secret values: secrets appear here only as ids that a step mounts.
package plan
