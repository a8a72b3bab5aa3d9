// Package sshagent owns SSH agent forwarding for RUN --mount=type=ssh.
//
// A [Source] is one agent configured with the buildx --ssh flag
// (default|ID[=SOCKET|KEY[,KEY...]]): either an existing ssh-agent socket on
// the host, which is forwarded, or private key files loaded into an
// in-memory keyring. [Source.Serve] exposes it on a fresh unix socket (on a
// tmpfs chosen by the caller) through a read-only view: a build step can list
// keys and ask for signatures, nothing else. The socket speaks only those two
// requests of the agent protocol; every other request (add, remove, lock,
// unlock, extensions, protocol 1) is answered with SSH_AGENT_FAILURE without
// being parsed, and nothing is logged.
//
// This package must never write a private key to disk, log it or put it in an
// error, and must never let a build step add, remove, lock, unlock or export
// keys of the agent it forwards.
package sshagent
