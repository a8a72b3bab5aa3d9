// Package secretfile owns secrets at rest: age-encrypted files (armored or binary), the
// identities and recipients that open and seal them, and the plaintext-on-tmpfs editing
// session of `hush secret edit`. (The env-file grammar lives in package secret.)
// The formats are specified in docs/spec/secret-files.md.
//
// Decryption happens only in memory. This package must never write plaintext anywhere but
// a private directory on tmpfs during an edit, never put a secret value or identity in an
// error message, and never import anything from the build pipeline (build, executor,
// snapshot, image). All cryptography is filippo.io/age; none is written here.
package secretfile
