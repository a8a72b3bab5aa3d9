package main

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
)

// StressSecondsEnv sets how long TestSharedStoreUnderLoad keeps its processes going.
const StressSecondsEnv = "HUSH_STRESS_SECONDS"

// stressDuration is $HUSH_STRESS_SECONDS, a minute by default.
func stressDuration(t *testing.T) time.Duration {
	s := os.Getenv(StressSecondsEnv)
	if s == "" {
		return time.Minute
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a number of seconds", StressSecondsEnv, s)
	}
	return time.Duration(n) * time.Second
}

// stressDockerfile is worker w's: a layer every worker's image shares, one that changes with
// N, a cache mount, a stage copied from, and an optional secret (the audit runs).
func stressDockerfile(w int) string {
	return fmt.Sprintf(`FROM busybox AS base
RUN echo shared-base > /shared
ARG N
RUN echo "w%d $N" > /n
RUN --mount=type=cache,target=/cache sh -c 'echo "$N" >> /cache/log && cp /cache/log /log'
FROM busybox
COPY --from=base /shared /n /log /
RUN --mount=type=secret,id=tok,required=false sh -c 'test -f /run/secrets/tok && echo ok > /ok || true'
`, w)
}

// stress is what the concurrent processes share: the env and what went wrong.
type stress struct {
	t        *testing.T
	e        *hushtest.Env
	deadline time.Time
	canary   string
	mu       sync.Mutex
	failures []string
	lastN    map[int]int // worker -> N of its last successful build
	ops      map[string]int
}

func (s *stress) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
}

func (s *stress) count(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops[op]++
}

// run runs hush; ok decides whether an exit is expected (nil: exit 0 only).
func (s *stress) run(ok func(code int, stderr string) bool, env []string, args ...string) bool {
	cmd := s.e.Command(args...)
	cmd.Env = append(cmd.Env, env...)
	var out, errOut hushtest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code <= 0 {
		s.fail("hush %v: %v", args, err)
		return false
	}
	if code != 0 && (ok == nil || !ok(code, errOut.String())) {
		s.fail("hush %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), tail(errOut.String(), 30))
		return false
	}
	s.count(args[0])
	return code == 0
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestSharedStoreUnderLoad runs builds (with the GC policy collecting after each), prunes
// of every kind, rmi, load and du side by side on one state dir for $HUSH_STRESS_SECONDS.
// Every build, prune, load and du must succeed (an rmi may only find its image gone);
// afterwards every tagged image copies whole out of the store with skopeo, each worker's
// image rebuilds all cached to the same ID, no lease or scratch dir is left, and the
// secret one worker used is nowhere on disk.
func TestSharedStoreUnderLoad(t *testing.T) {
	requireHush(t)
	skopeo := hushtest.RequireBinary(t, "skopeo")
	e := hushtest.NewEnv(t, hushBin)
	s := &stress{t: t, e: e, deadline: time.Now().Add(stressDuration(t)), lastN: map[int]int{}, ops: map[string]int{},
		canary: "CANARY-stress-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 12))}
	const workers = 3
	for w := range workers {
		e.WriteFile(fmt.Sprintf("w%d/Dockerfile", w), stressDockerfile(w))
	}
	e.WriteFile("load/Dockerfile", "FROM busybox\nRUN echo loaded > /loaded\n")
	if out, errOut, code := e.Run("build", "--progress=plain", "-o", "type=oci,dest=load.tar,name=loaded:v1", "load"); code != 0 {
		t.Fatalf("building the archive to load: %d\n%s%s", code, out, errOut)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); s.builder(w) }()
	}
	for _, f := range []func(){s.pruner, s.remover, s.loader, s.lister} {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
	t.Logf("operations that succeeded: %v", s.ops)
	for _, f := range s.failures[:min(len(s.failures), 10)] {
		t.Error(f)
	}
	if len(s.failures) > 0 {
		t.Fatalf("%d operations failed", len(s.failures))
	}
	s.checkImages(skopeo)
	for w := range workers {
		s.checkRebuild(w)
	}
	s.checkNothingLeft()
	e.NoCanary([]byte(s.canary))
}

// builder builds worker w's image again and again with an N from a small set, so that
// some builds are cached and some are not.
func (s *stress) builder(w int) {
	for time.Now().Before(s.deadline) {
		n := rand.IntN(4)
		args := []string{"build", "--progress=plain", "-t", fmt.Sprintf("app-%d:latest", w), "--build-arg", "N=" + strconv.Itoa(n)}
		var env []string
		if w == 0 {
			args = append(args, "--secret", "id=tok,env=TOK")
			env = []string{"TOK=" + s.canary}
		}
		// The GC policy leaves almost no room: every build's collection removes cache
		// other builds may be using.
		env = append(env, "HUSH_GC=max-used-space=4MB,reserved-space=0,min-free-space=0")
		if s.run(nil, env, append(args, fmt.Sprintf("w%d", w))...) {
			s.mu.Lock()
			s.lastN[w] = n
			s.mu.Unlock()
		}
	}
}

func (s *stress) pruner() {
	kinds := [][]string{{"prune", "-f"}, {"prune", "-af"}, {"prune", "-f", "--keep-storage", "1MB"},
		{"prune", "-f", "--filter", "type=exec.cachemount"}, {"prune", "-af", "--filter", "until=2s"}}
	for i := 0; time.Now().Before(s.deadline); i++ {
		s.run(nil, nil, kinds[i%len(kinds)]...)
		time.Sleep(200 * time.Millisecond)
	}
}

// remover removes a worker's image now and then; it may have been removed already.
func (s *stress) remover() {
	gone := func(code int, stderr string) bool { return code == 1 && strings.Contains(stderr, "image not found") }
	for time.Now().Before(s.deadline) {
		s.run(gone, nil, "rmi", fmt.Sprintf("app-%d:latest", rand.IntN(3)))
		time.Sleep(time.Duration(500+rand.IntN(1000)) * time.Millisecond)
	}
}

func (s *stress) loader() {
	for time.Now().Before(s.deadline) {
		if s.run(nil, nil, "load", "-i", "load.tar") {
			s.run(nil, nil, "rmi", "loaded:v1")
		}
	}
	s.run(nil, nil, "load", "-i", "load.tar") // left tagged for the checks
}

func (s *stress) lister() {
	for time.Now().Before(s.deadline) {
		s.run(nil, nil, "du")
		s.run(nil, nil, "images")
		time.Sleep(300 * time.Millisecond)
	}
}
