// Package registry owns hush's registry credentials and pushes: reading the
// user's Docker config the way docker does (DOCKER_CONFIG, auths, credsStore,
// credHelpers and the docker-credential-helper protocol), explicit
// --registry-auth files (a legacy .dockercfg or a config.json, plain or
// age-encrypted and decrypted in memory), --registry-auth-generator commands
// and pushing an image to a registry.
//
// Registry keys are normalized (scheme, path and trailing slash dropped, host
// lowercased, every Docker Hub alias mapped to https://index.docker.io/v1/),
// so "https://reg.example.com/" serves reg.example.com.
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
//	image:NAME      a hush image as the generator: not supported yet.
//
// There is no on-disk credential cache.
//
// Credentials are go-containerregistry authn.Keychains held in memory. This
// package must never write a credential to a persistent disk, and never put a
// user name, password or token in an error message or a log line: errors name
// the registry and the source of the credentials, never their content. It
// imports nothing from the build pipeline; callers hand it a v1.Image.
package registry
