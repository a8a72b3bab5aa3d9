// Package registry owns hush's registry credentials and registry access: the
// one credential path behind FROM pulls, pushes and `hush audit REF`. It reads
// the user's Docker config the way docker does (DOCKER_CONFIG, auths,
// credsStore, credHelpers), explicit --registry-auth files (a legacy
// .dockercfg or a config.json, plain or age-encrypted and decrypted in memory)
// and --registry-auth-generator output; it pushes, pulls and fetches images.
//
// Parsing is docker/cli's configfile (loaded from bytes in memory, with no file
// name, so it can never be saved) and helpers are asked through
// docker-credential-helpers' client with a program hush runs itself (its PATH
// and environment, stderr held back and masked, nothing it prints in an
// error). On top, hush normalizes registry keys (scheme, path and trailing
// slash dropped, host lowercased, every Docker Hub alias mapped to
// https://index.docker.io/v1/), so "https://reg.example.com/" serves
// reg.example.com, and resolves DOCKER_CONFIG and ~/.dockercfg itself.
//
// A generator spec is one of:
//
//	'COMMAND ARGS'  Codeship's contract: hush appends an output path on tmpfs
//	                (a private dir under /dev/shm, or $HUSH_TMPFS_DIR) as the
//	                last argument, reads the dockercfg written there, deletes
//	                it at once and keeps the credentials in memory for the
//	                build.
//	helper:NAME     a docker credential helper (docker-credential-NAME) asked
//	                for every registry.
//	image:NAME      a hush image as the generator, run with the output dir (a tmpfs)
//	                mounted at /hush-generator.
//
// Generated credentials stay in memory for the command, or, with a DiskCache, on disk
// age-encrypted under the state dir with the key on a tmpfs, until they expire.
//
// Credentials are go-containerregistry authn.Keychains held in memory. This
// package must never write a credential to a persistent disk, and never put a
// user name, password or token in an error message or a log line: errors name
// the registry and the source of the credentials, never their content. It
// imports nothing from the build pipeline; callers hand it a v1.Image.
package registry
