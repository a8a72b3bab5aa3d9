// Package jet reads files encrypted by Codeship Jet (`jet encrypt`), for migrating them to
// age: the project AES key file and the v1 and v2 encrypted-file formats described in
// docs/spec/secret-files.md.
//
// It only decrypts, in memory. It must never write plaintext, put plaintext or key bytes
// in an error message, or import anything from the build pipeline. Jet's scheme (unauthenticated
// AES-CFB, an MD5 check in v2) is read for migration only; hush never writes it.
package jet
