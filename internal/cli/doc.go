// Package cli wires hush's commands with cobra: one file per verb, each a newXCmd that
// parses flags into options and calls runX(ctx, opts), writing to the command's streams.
//
// It owns flag spellings (docker buildx's, kept exactly) and exit codes. It must never hold
// build logic, and never print a secret value.
package cli
