// Package audit proves an image holds no secret. It owns the exact search for known
// secret values (in every encoding listed by Forms) across an image's layers (every tar
// entry, including files a later layer deletes), its config, history and annotations, and
// across hush's own state directories; a heuristic mode (Options.Detect) finds well-known
// credential formats in images built elsewhere; and the JSON report format specified in
// docs/spec/audit-report.md.
//
// This package must never print, log, return or persist a secret value or a matched
// credential: a Finding names the secret id, the location and the encoding, and carries at
// most a fingerprint keyed by a random per-run key. It never imports executor or build.
package audit
