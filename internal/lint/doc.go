// Package lint checks a parsed Dockerfile, its build arguments, the secrets supplied to
// the build and the real build context for unsafe secret handling: secrets in ARG, ENV or
// LABEL, credential-shaped literals, context files that COPY or ADD would bake into the
// image, and secret mount targets that do not mean what they seem. `hush lint` prints its
// findings; `hush build` shows them as warnings. Rules are listed in docs/lint.md.
//
// It owns the rules, their names and severities, and BuildKit-compatible suppression
// (`# check=skip=RULE`). It reads only the context directory it is given, and only to
// classify files. A Finding must never contain a secret value or any part of a credential
// it found; messages name instructions, variables, secret ids and context paths only.
package lint
