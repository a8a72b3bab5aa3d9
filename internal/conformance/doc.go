// Package conformance reads a built image (an OCI archive, as BuildKit's and hush's `oci`
// exporters write it) into the parts of it that a Dockerfile decides — the config fields,
// the history and what each new layer holds — rendered as golden text, so that hush's
// images can be compared with images a real BuildKit built from the same Dockerfile
// (testdata/conformance, scripts/conformance.sh).
//
// It owns the golden format and its normalisations: every part of an image that may
// legitimately differ between two builders is left out or rewritten here, each with a
// comment naming its reason (docs/differences.md for deliberate differences). It must never
// build anything, nor write outside the directory it is given.
package conformance
