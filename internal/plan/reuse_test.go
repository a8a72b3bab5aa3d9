package plan_test

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/plan"
)

// reuseDockerfile expands ARG and ENV values in every kind of word: ENV and LABEL pairs
// (some quoted so that a second expansion would change them), WORKDIR, USER, VOLUME,
// STOPSIGNAL, EXPOSE, RUN --mount options, heredocs, COPY/ADD flags, sources and dests.
const reuseDockerfile = "testdata/reuse/Dockerfile"

func parseFile(t *testing.T, path string) *dockerfile.File {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := dockerfile.Parse("Dockerfile", bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func newPlan(t *testing.T, f *dockerfile.File, args map[string]string) *plan.Plan {
	t.Helper()
	p, err := plan.New(f, plan.Options{BuildArgs: args, Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}, BuildPlatform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dump(t *testing.T, p *plan.Plan) string {
	t.Helper()
	out, err := dumpStages(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPlanIsNotModified walks one parsed Dockerfile through several plans (other build
// args, as several targets of one file would) and each plan twice (as the required-secrets
// check and then the build do). Every walk must give what a fresh parse gives, and the
// parsed instructions must stay exactly as parsed.
func TestPlanIsNotModified(t *testing.T) {
	f := parseFile(t, reuseDockerfile)
	for _, args := range []map[string]string{
		{"WHO": "alice", "SIG": "SIGINT"},
		{"WHO": "bob"},
		{"WHO": "alice", "SIG": "SIGINT"},
	} {
		want := dump(t, newPlan(t, parseFile(t, reuseDockerfile), args))
		p := newPlan(t, f, args)
		for walk := 1; walk <= 2; walk++ {
			if got := dump(t, p); got != want {
				t.Errorf("build args %v, walk %d of a shared plan differs from a fresh plan\n--- got\n%s\n--- want\n%s", args, walk, got, want)
			}
		}
	}
	pristine := parseFile(t, reuseDockerfile)
	if !reflect.DeepEqual(f.Stages, pristine.Stages) || !reflect.DeepEqual(f.MetaArgs, pristine.MetaArgs) {
		t.Error("planning and applying changed the parsed instructions")
	}
}

// TestConcurrentStates applies every stage of one plan in several goroutines at once (run
// with -race): each walk must give what a walk of a fresh plan gives.
func TestConcurrentStates(t *testing.T) {
	args := map[string]string{"WHO": "carol"}
	want := dump(t, newPlan(t, parseFile(t, reuseDockerfile), args))
	p := newPlan(t, parseFile(t, reuseDockerfile), args)
	const walkers = 4
	got := make([]string, walkers)
	errs := make([]error, walkers)
	var wg sync.WaitGroup
	for i := range walkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = dumpStages(p)
		}()
	}
	wg.Wait()
	for i := range walkers {
		if errs[i] != nil {
			t.Fatalf("walker %d: %v", i, errs[i])
		}
		if got[i] != want {
			t.Errorf("walker %d differs from a fresh plan\n--- got\n%s\n--- want\n%s", i, got[i], want)
		}
	}
}

// TestOnBuildTriggerMounts: a RUN from an ONBUILD trigger is not one of the plan's file,
// so it has no node to reparse; its --mount options still expand, against the base's Env.
func TestOnBuildTriggerMounts(t *testing.T) {
	f, err := dockerfile.Parse("Dockerfile", strings.NewReader("FROM base\nRUN true\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := newPlan(t, f, nil)
	trig, err := plan.OnBuild([]string{"RUN --mount=type=secret,id=$ID,required true"})
	if err != nil {
		t.Fatal(err)
	}
	state, err := p.NewState(p.Target, v1.Config{Env: []string{"ID=from-base"}})
	if err != nil {
		t.Fatal(err)
	}
	step, err := state.Apply(trig[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(step.Mounts) != 1 || step.Mounts[0].CacheID != "from-base" || !step.Mounts[0].Required {
		t.Fatalf("mounts = %+v, want the secret from-base, required", step.Mounts)
	}
}
