// Package pipeline runs Codeship Pro pipelines (hush steps, hush run): it loads the files
// (package codeship), decrypts their encrypted env, args and dockercfg files in memory
// (Jet or age) into one secret set, builds every service the selected steps need through
// builder.Run (concurrently, one store, one progress display), runs each step's container
// and its linked services in a network namespace of its own (builder.RunService), and
// pushes with the step's credentials.
//
// It owns the order of a pipeline: what runs, in parallel or in turn, what a failure
// stops, what is skipped, the summary. It must never put a secret value in argv, a file
// on persistent disk, an image, an error or a log line, and never start a container
// itself (builder and executor do).
package pipeline
