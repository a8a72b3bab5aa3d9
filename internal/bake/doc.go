// Package bake reads build definitions the way `docker buildx bake` does — docker-bake.hcl
// and .json files (variables typed from the environment, ${} interpolation, buildx's
// function library, user functions, groups, inherits, matrix) and compose files (build
// sections, secrets, ssh, additional contexts, x-bake) — and resolves the targets a command
// names, with --set overrides applied, into Targets. It also renders them as `--print` and
// `--list` do.
//
// It owns the bake file formats, their merge order and the resolved definition. It must
// never build, read a secret's value (it only names where a value comes from), or decide
// what hush can honour at build time: the caller turns Targets into builds.
package bake
