// Package dockerfile turns Dockerfile text into typed instructions, using BuildKit's own
// parser and instructions packages so that syntax, heredocs and --mount parsing match
// `docker buildx build` exactly.
//
// It owns: parsing, syntax errors that name file:line, the parse warnings BuildKit emits,
// and independent copies of a parsed instruction (Reparse) for code that must expand one.
// It must never do I/O beyond reading the reader it is given, and never evaluate a build.
package dockerfile
