// Package fscopy owns COPY and ADD between directory trees with Docker and
// BuildKit semantics: source pattern expansion, directory-contents copying,
// destination naming, ownership (--chown), modes (--chmod), local archive
// extraction and remote (http/https) downloads for ADD, and the content digest
// of a copy used in build-cache keys.
//
// Every path it resolves, on the source and on the destination side, is
// resolved inside its root by fsroot: a symlink pointing at "/etc" or "../../"
// resolves inside the root, never outside it, and every write goes through an
// fsroot.Root. Archives are extracted by untar, confined to the destination. It must never read or write outside the roots
// it is given (no host temp dirs), never follow a destination symlink out of
// the destination root, never show an excluded (dockerignored) file, and never
// put request headers (credentials) in an error or a log.
package fscopy
