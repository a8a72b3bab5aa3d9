// Package provenance writes a build's SLSA provenance the way BuildKit writes it
// (--provenance, --attest type=provenance): the SLSA v1 predicate (or v0.2), in mode min
// or max, and the in-toto statement about an image (purl subjects).
//
// It owns those formats. It must never write a secret value: a build arg or label whose
// value holds a supplied secret (in any encoding), or that came from an encrypted
// --build-arg-file, is left out (and the request marked incomplete), and the build's
// self-audit searches the predicate like any other part of the image.
package provenance
