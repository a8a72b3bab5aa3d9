// Package buildcontext owns the local build context: the directory a build
// reads COPY and ADD sources from, and the ignore rules (.dockerignore) that
// decide which of its files a build may see.
//
// It reads the ignore file exactly the way BuildKit does
// (<Dockerfile>.dockerignore next to the Dockerfile wins over
// <dir>/.dockerignore) and answers one question: is this path excluded?
//
// It must never copy, hash or send files, never read outside the context
// directory apart from the Dockerfile-specific ignore file, and never treat a
// file it could not classify as visible.
package buildcontext
