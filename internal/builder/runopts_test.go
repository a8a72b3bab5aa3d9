package builder

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/executor"
)

// TestEntitlements: RUN --network=host and RUN --security=insecure fail before any step
// runs unless --allow grants them (--network host grants network.host, as in buildx),
// naming the Dockerfile line; granted, an insecure step runs unsandboxed.
func TestEntitlements(t *testing.T) {
	tests := []struct {
		name     string
		df       string
		req      Request
		wantErr  string
		insecure bool
	}{
		{name: "network host refused", df: "FROM scratch\nRUN write a a\nRUN --network=host write b b\n",
			wantErr: "Dockerfile:3: RUN --network=host: network.host is not allowed (grant it with --allow network.host)"},
		{name: "network host allowed", df: "FROM scratch\nRUN --network=host write b b\n", req: Request{Allow: Entitlements{NetworkHost: true}}},
		{name: "--network host grants it", df: "FROM scratch\nRUN --network=host write b b\n", req: Request{Network: "host"}},
		{name: "insecure refused", df: "FROM scratch\nRUN write a a\nRUN --security=insecure write b b\n",
			wantErr: "Dockerfile:3: RUN --security=insecure: security.insecure is not allowed (grant it with --allow security.insecure)"},
		{name: "insecure allowed", df: "FROM scratch\nRUN --security=insecure write b b\n",
			req: Request{Allow: Entitlements{SecurityInsecure: true}}, insecure: true},
		{name: "sandbox needs nothing", df: "FROM scratch\nRUN --security=sandbox write b b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			rt := &recordingRuntime{fakeRuntime: h.rt}
			h.b.Runtime = rt
			o := h.build(tt.df, tt.req)
			limits := rt.seen
			if tt.wantErr != "" {
				if o.err == nil || !strings.Contains(o.err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", o.err, tt.wantErr)
				}
				if len(o.ran) != 0 {
					t.Errorf("ran %q before refusing", o.ran)
				}
				return
			}
			if o.err != nil {
				t.Fatal(o.err)
			}
			if len(limits) != 1 || limits[0].Insecure != tt.insecure {
				t.Errorf("limits %+v, want Insecure=%v", limits, tt.insecure)
			}
		})
	}
}

// TestRunLimits: --add-host, --ulimit and --shm-size reach every RUN step and its cache
// key: the same limits are a cache hit, other limits re-run the step.
func TestRunLimits(t *testing.T) {
	const df = "FROM scratch\nRUN write a a\n"
	lim := RunLimits{ExtraHosts: []Host{{Name: "db", IP: "10.0.0.2"}}, Ulimits: []Ulimit{{Name: "nofile", Soft: 10, Hard: 20}}, ShmSize: 1 << 20}
	h := newHarness(t)
	h.mustBuild(df, Request{})
	o := h.mustBuild(df, Request{Limits: lim})
	if len(o.ran) != 1 {
		t.Fatalf("with limits ran %q, want the RUN again (other limits, other key)", o.ran)
	}
	o = h.mustBuild(df, Request{Limits: lim})
	if len(o.ran) != 0 {
		t.Errorf("same limits ran %q, want a cache hit", o.ran)
	}
	o = h.mustBuild(df, Request{Limits: RunLimits{ShmSize: 2 << 20}})
	if len(o.ran) != 1 {
		t.Errorf("another shm size ran %q, want the RUN again", o.ran)
	}
}

// TestRunLimitsReachTheRuntime: the executor gets the build's limits as given.
func TestRunLimitsReachTheRuntime(t *testing.T) {
	lim := RunLimits{ExtraHosts: []Host{{Name: "db", IP: "10.0.0.2"}}, Ulimits: []Ulimit{{Name: "nproc", Soft: 5, Hard: 6}}, ShmSize: 3 << 20}
	h := newHarness(t)
	rt := &recordingRuntime{fakeRuntime: h.rt}
	h.b.Runtime = rt
	h.mustBuild("FROM scratch\nRUN write a a\n", Request{Limits: lim})
	want := executor.Limits{ExtraHosts: lim.ExtraHosts, Ulimits: lim.Ulimits, ShmSize: lim.ShmSize}
	if len(rt.seen) != 1 || !reflect.DeepEqual(rt.seen[0], want) {
		t.Errorf("runtime got %+v, want %+v", rt.seen, want)
	}
}

// TestNoCacheFilter: --no-cache-filter re-runs the named stage's steps and those of the
// stages built FROM it, and takes every other stage from the cache.
func TestNoCacheFilter(t *testing.T) {
	const df = `FROM scratch AS base
RUN write a a
FROM base AS mid
RUN write b b
FROM scratch AS other
RUN write c c
FROM scratch
COPY --from=mid /b /
COPY --from=other /c /
`
	h := newHarness(t)
	h.mustBuild(df, Request{})
	o := h.mustBuild(df, Request{NoCacheFilter: []string{"BASE"}})
	slices.Sort(o.ran)
	if want := []string{"write a a", "write b b"}; !slices.Equal(o.ran, want) {
		t.Errorf("ran %q, want %q", o.ran, want)
	}
	o = h.mustBuild(df, Request{NoCacheFilter: []string{"other"}})
	if want := []string{"write c c"}; !slices.Equal(o.ran, want) {
		t.Errorf("ran %q, want %q", o.ran, want)
	}
}

// recordingRuntime records each step's limits before the fake runtime runs it.
type recordingRuntime struct {
	*fakeRuntime
	seen []executor.Limits
}

func (r *recordingRuntime) Run(ctx context.Context, c *executor.Container) error {
	r.seen = append(r.seen, c.Limits)
	return r.fakeRuntime.Run(ctx, c)
}
