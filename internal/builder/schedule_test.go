package builder

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestBuildsOnlyTheStagesTheTargetNeeds: a stage runs when the target is it, starts from
// it or copies from it, directly or through another stage; no other stage runs.
func TestBuildsOnlyTheStagesTheTargetNeeds(t *testing.T) {
	const df = `FROM scratch AS a
RUN write a.txt a
FROM scratch AS unused
RUN write unused.txt unused
FROM a AS c
RUN write c.txt c
FROM scratch AS final
COPY --from=c /c.txt /
RUN write final.txt final
`
	tests := []struct {
		target string
		want   []string
	}{
		{"", []string{"write a.txt a", "write c.txt c", "write final.txt final"}},
		{"unused", []string{"write unused.txt unused"}},
		{"c", []string{"write a.txt a", "write c.txt c"}},
		{"a", []string{"write a.txt a"}},
	}
	for _, tt := range tests {
		t.Run("target="+tt.target, func(t *testing.T) {
			o := newHarness(t).mustBuild(df, Request{Target: tt.target})
			slices.Sort(o.ran)
			if !slices.Equal(o.ran, tt.want) {
				t.Errorf("ran %q, want %q", o.ran, tt.want)
			}
		})
	}
}

// TestIndependentStagesRunConcurrently: two stages that need nothing of each other run at
// the same time (each step waits until the other has started; run one after the other,
// the first gives up).
func TestIndependentStagesRunConcurrently(t *testing.T) {
	const df = `FROM scratch AS a
RUN meet 2
RUN write a.txt a
FROM scratch AS b
RUN meet 2
RUN write b.txt b
FROM scratch
COPY --from=a /a.txt /
COPY --from=b /b.txt /
`
	o := newHarness(t).mustBuild(df, Request{})
	for _, f := range []string{"a.txt", "b.txt"} {
		if got, _ := fileInImage(t, o.pub.Image, f); got != strings.TrimSuffix(f, ".txt") {
			t.Errorf("/%s in the image = %q", f, got)
		}
	}
}

// TestFailingStageErrorIsReported: when one stage fails, the build cancels the others (a
// step blocked in the runtime returns) and reports the failure, not the cancellation of a
// stage listed before it.
func TestFailingStageErrorIsReported(t *testing.T) {
	const df = `FROM scratch AS slow
RUN block
FROM scratch AS broken
RUN wait-block
RUN fail
FROM scratch
COPY --from=slow /x /
COPY --from=broken /y /
`
	o := newHarness(t).build(df, Request{})
	if o.err == nil {
		t.Fatal("the build succeeded")
	}
	if errors.Is(o.err, context.Canceled) {
		t.Fatalf("reported the sibling's cancellation: %v", o.err)
	}
	for _, want := range []string{"Dockerfile:5", `process "/bin/sh -c fail" did not complete successfully`, "exit code: 3"} {
		if !strings.Contains(o.err.Error(), want) {
			t.Errorf("error %q does not say %q", o.err, want)
		}
	}
}

// TestNoStepAfterAFailedDependency: a stage that starts from, copies from or mounts a stage
// that failed runs none of its steps past that point, and the dependency's failure is the
// error.
func TestNoStepAfterAFailedDependency(t *testing.T) {
	const base = "FROM scratch AS base\nRUN fail\n"
	tests := []struct {
		name, next string
	}{
		{"FROM", "FROM base AS next\nRUN write next.txt next\n"},
		{"COPY --from", "FROM scratch AS next\nCOPY --from=base /x /\nRUN write next.txt next\n"},
		{"RUN --mount from", "FROM scratch AS next\nRUN --mount=type=bind,from=base,target=/b write next.txt next\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newHarness(t).build(base+tt.next, Request{})
			if o.err == nil {
				t.Fatal("the build succeeded")
			}
			if want := []string{"fail"}; !slices.Equal(o.ran, want) {
				t.Errorf("ran %q, want %q", o.ran, want)
			}
			if !strings.Contains(o.err.Error(), "Dockerfile:2") || strings.Contains(o.err.Error(), errDependency.Error()) {
				t.Errorf("error %q should be the failed step's (Dockerfile:2)", o.err)
			}
		})
	}
}
