// Package buildflags reads the values of docker buildx build's flags whose grammar is more
// than a string — --platform, --build-context, --add-host, --ulimit, --shm-size, --allow,
// --annotation, --attest/--provenance/--sbom, --call — into the builder's request types,
// with buildx's spellings and its error cases. hush build and bake share it.
//
// It owns those value grammars. It must never do I/O (a build context path is checked by
// the builder when it opens it) and never see a secret value.
package buildflags
