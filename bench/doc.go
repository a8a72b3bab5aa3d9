// Command bench is hush's benchmark harness, run by `make bench` as
// `go run ./bench -hush bin/hush`.
//
// It builds the Dockerfiles under bench/testdata with every builder it finds — hush
// always, BuildKit through `docker build` when a docker engine answers and the docker CLI
// can drive BuildKit, and `buildah bud` when buildah is installed — cold (every cache
// removed) and fully cached, alternating the builders run by run (A B C A B C …). It also
// measures the cost hush adds per RUN step against a bare `crun run` / `runc run` of
// `true` on a prepared bundle. It prints a plain table of medians, minimums and maximums
// with the hush/BuildKit ratios, and writes the same figures as JSON with -json.
//
// The harness owns only its own scratch directory (-work) and the images it tags
// bench-*: it must never touch the caller's HUSH_ROOT, never pull from a registry, and
// never delete docker or buildah images it did not create (`docker builder prune` does
// drop the engine's whole build cache, which a cold BuildKit build requires).
package main
