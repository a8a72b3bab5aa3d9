// Package codeship reads Codeship Pro pipelines as repositories wrote them: the services
// file (codeship-services.yml|.yaml|.json, else docker-compose.yml; flat or under
// services:, compose v2/v3) and the steps file (codeship-steps.yml|.json), with YAML
// anchors and merge keys, and turns them into a Pipeline: services, a tree of steps with
// what groups hand down to their children (service, tag, registry, credentials), the
// tag/exclude filters, image_tag templates, and the plan `hush steps --dry-run` prints
// (docs/spec/steps-plan.md).
//
// It owns the files' grammar: every key a real pipeline uses, warnings naming file:line
// for keys it does not know or hush ignores, errors naming file:line (and the step) for
// what cannot run. It must never decrypt, read a secret value, run or build anything, or
// import the build pipeline: it reads the two files and nothing else.
package codeship
