// Package secret owns a command's secret values: parsing --secret specs with buildx's
// grammar, reading each value once into memory (Set: --secret values, env-file secrets,
// --ssh key files), handing them out by id, the encodings a value can hide in (Forms), the
// streaming redactor that masks them in everything printed, and keyed fingerprints.
//
// Values live only in memory here, and a Set is wiped once when its command ends. This
// package must never write a value to disk, put one in an error message, a log line or a
// cache key (only a keyed fingerprint), or import anything from the build pipeline
// (builder, executor, snapshot, image).
package secret
