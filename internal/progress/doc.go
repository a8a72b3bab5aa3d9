// Package progress owns what the user sees while hush builds: one "vertex"
// per build step, streamed RUN output, CACHED/DONE/ERROR states and warnings,
// drawn in BuildKit's look either as plain text (#N lines) or as a live
// terminal region redrawn about ten times a second.
//
// It must never print anything but what it is given, and never anywhere but
// the io.Writer handed to New: a redacting writer wraps that writer to mask
// secrets, so bypassing it (for example by writing to os.Stdout) would leak.
// Plain mode writes only whole lines. TTY mode truncates rows and output
// lines to the terminal width, which can cut a secret in two and hide it from
// a writer-level redactor; callers must therefore redact step output before
// it reaches Step.Write as well.
//
// The package holds no global state, starts at most one goroutine per
// Display (the TTY redraw ticker, stopped by Close) and never panics on bad
// input: unknown modes are errors, misuse such as writing after Done is
// ignored.
package progress
