// Package gitsource owns fetching Git sources for remote build contexts
// (`hush build https://host/org/repo.git#ref:subdir`) and for `ADD <git url>`, with
// BuildKit's URL forms and authentication order: the secrets GIT_AUTH_HEADER.<host>,
// GIT_AUTH_TOKEN.<host>, GIT_AUTH_HEADER and GIT_AUTH_TOKEN, first found wins.
//
// It must never put a credential in a process's argv, in a URL, in a file (not even
// .git/config when the .git directory is kept), in an error or in a log. The
// Authorization header reaches git only through GIT_CONFIG_* environment variables
// of the git processes that need it, scoped to the remote, and every byte git writes
// to stderr is redacted before it reaches a caller. Git runs with a minimal
// environment: no user or system configuration, no terminal prompts, an empty HOME.
//
// SSH remotes authenticate with the agent socket the caller gives and always verify
// the server's host key against a known_hosts file the caller gives; without one the
// fetch fails rather than trusting the server.
package gitsource
