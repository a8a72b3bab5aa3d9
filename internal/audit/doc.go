// Package audit proves an image holds no secret. It owns the exact search for known
// secret values (whole copies in every encoding listed by secret.Encodings, base64 and hex
// also cut into lines) across an image's layers (every tar entry, including files a later
// layer deletes, and inside gzip files), its config, history and annotations, and across
// hush's own state directories, in time and memory that do not grow with the values
// (fixed windows of each form, each hit verified against the whole form); a heuristic mode (Options.Detect) finds well-known
// credential formats in images built elsewhere; and the JSON report format specified in
// docs/spec/audit-report.md.
//
// This package must never print, log, return or persist a secret value or a matched
// credential: a Finding names the secret id, the location and the encoding, and carries at
// most a fingerprint keyed by a random per-run key. It never imports executor or build.
package audit
