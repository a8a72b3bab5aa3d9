// Command bench is hush's benchmark harness, run by `make bench` as
// `go run ./bench -hush bin/hush`.
//
// It builds the Dockerfiles under bench/testdata with every builder it finds — hush
// always, BuildKit through `docker build` when a docker engine answers and the docker CLI
// can drive BuildKit, and `buildah bud` when buildah is installed — cold (every cache
// removed) and fully cached, alternating the builders run by run (A B C A B C …), with the
// kernel's dirty pages written back (sync) before each timed run so that one run's
// writeback does not land in the next. The cases: cold10 and multistage (a 2k-file
// context), bigsecret (a step mounting a 256 KiB secret), cold10 cached again with that
// secret given (hush), bigctx (a 1 GiB context, hush only, for its peak RSS), the audit
// of a 100 MiB image with secret sets of 32 B, 2 KiB, 100 × 2 KiB and 16 MiB next to
// `gzip -dc | grep -F` over the same layers with the same parallelism, and the cost hush
// adds per RUN step against a bare `crun run` / `runc run` of `true` on a prepared bundle.
//
// It prints a plain table of medians, minimums, maximums, spreads (max/min) and peak RSS
// (of the process trees the harness starts: hush, `hush audit`, the grep baseline), the
// ratios to BuildKit, and a GOAL table with a met/missed verdict for every goal of issue
// 13; -json writes the same figures. Benchmark secrets are random and live on a tmpfs.
//
// The harness owns only its own scratch directory (-work), the tmpfs dir of its secrets
// and the images it tags bench-*: it must never touch the caller's HUSH_ROOT, never pull
// from a registry, and never delete docker or buildah images it did not create
// (`docker builder prune` does drop the engine's whole build cache, which a cold BuildKit
// build requires).
package main
