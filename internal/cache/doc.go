// Package cache owns the build cache: how a step's cache key is computed and the records
// that map a key to the layer a step produced.
//
// Keys are sha256 over a canonical, length-prefixed list of named fields (see
// docs/spec/cache-key.md). Secret values must never be given to Key.Add: a later change
// adds keyed fingerprints (an HMAC under a per-store random key) through a separate method,
// so a key can never hold secret bytes or a plain, guessable hash of them.
package cache
