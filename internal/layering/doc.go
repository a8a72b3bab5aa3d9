// Package layering holds no code: its test enforces the import direction of hush's
// packages (see docs/design.md), so the data flow stays readable from the tree.
package layering
