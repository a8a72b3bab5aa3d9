package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
)

// storeNames lists the names index.json of the store at root gives its images.
func storeNames(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "store", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`"org.opencontainers.image.ref.name":"([^"]+)"`).FindAllSubmatch(b, -1) {
		names = append(names, string(m[1]))
	}
	return names
}

// checkStoreImages: every image named in the store is whole: skopeo reads its manifest
// and config, and copies it, every blob checked against its digest, into a new layout.
func checkStoreImages(t *testing.T, skopeo, root string) []string {
	t.Helper()
	names := storeNames(t, root)
	for i, n := range names {
		src := "oci:" + filepath.Join(root, "store") + ":" + n
		if out, err := exec.Command(skopeo, "inspect", src).CombinedOutput(); err != nil {
			t.Errorf("skopeo inspect %s: %v\n%s", n, err, out)
			continue
		}
		dst := "oci:" + filepath.Join(t.TempDir(), "copy") + ":" + strconv.Itoa(i)
		if out, err := exec.Command(skopeo, "copy", "--quiet", src, dst).CombinedOutput(); err != nil {
			t.Errorf("skopeo copy %s: %v\n%s", n, err, out)
		}
	}
	return names
}

func (s *stress) checkImages(skopeo string) {
	names := checkStoreImages(s.t, skopeo, s.e.Root)
	if !strings.Contains(strings.Join(names, " "), "loaded:v1") {
		s.t.Errorf("the loaded image is not in the store: %v", names)
	}
}

// checkRebuild builds worker w's image with its last N, then again: the second is all
// cached and gives the same image.
func (s *stress) checkRebuild(w int) {
	t := s.t
	n, ok := s.lastN[w]
	if !ok {
		t.Errorf("worker %d never built", w)
		return
	}
	args := []string{"build", "--progress=plain", "--build-arg", "N=" + strconv.Itoa(n), "-t", fmt.Sprintf("app-%d:latest", w)}
	var ids [2]string
	for i := range ids {
		iid := filepath.Join(s.e.Dir, fmt.Sprintf("iid-%d-%d", w, i))
		_, errOut, code := s.e.Run(append(args, "--iidfile", iid, fmt.Sprintf("w%d", w))...)
		if code != 0 {
			t.Fatalf("rebuilding worker %d's image after the stress: exit %d\n%s", w, code, errOut)
		}
		b, _ := os.ReadFile(iid)
		ids[i] = string(b)
		if i == 1 {
			// 4 RUN and 1 COPY, all reused.
			if got := strings.Count(errOut, " CACHED\n"); got != 5 {
				t.Errorf("worker %d's rebuild reused %d of 5 steps:\n%s", w, got, errOut)
			}
		}
	}
	if ids[0] != ids[1] || ids[0] == "" {
		t.Errorf("worker %d's rebuild gave image %q, the build before %q", w, ids[1], ids[0])
	}
}

// checkNothingLeft: once every process ended and a command swept the state dir, no lease,
// pending removal, scratch dir or workspace is left.
func (s *stress) checkNothingLeft() {
	checkNothingLeft(s.t, s.e)
}

func checkNothingLeft(t *testing.T, e *hushtest.Env) {
	t.Helper()
	if _, errOut, code := e.Run("images"); code != 0 { // sweeps
		t.Fatalf("hush images: %d\n%s", code, errOut)
	}
	for _, pattern := range []string{"leases/*.lease", "leases/*.new", "leases/pending/*", "tmp/*", "snapshots/w/*", "snapshots/t/*", "unaudited/*"} {
		if left, _ := filepath.Glob(filepath.Join(e.Root, pattern)); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}
	hushtest.CheckNoMounts(t, e.Root)
}

// waitUntil polls cond every 10 ms for at most d.
func waitUntil(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// killDockerfile leaves much to prune: many layers of many small files only the cache
// names (the build goes to a directory), and a cache mount of many files.
func killDockerfile() string {
	var b strings.Builder
	b.WriteString("FROM busybox\nARG N\n")
	for i := range 8 {
		fmt.Fprintf(&b, "RUN mkdir /d%d && for f in $(seq 150); do echo \"$N %d $f\" > /d%d/$f; done\n", i, i, i)
	}
	b.WriteString("RUN --mount=type=cache,target=/cache sh -c 'mkdir -p /cache/$N && for f in $(seq 300); do echo $f > /cache/$N/$f; done'\n")
	return b.String()
}

// TestKillDuringPrune kills hush prune -af with SIGKILL at different points of its work.
// After each kill the next command's sweep leaves the store consistent: every tagged
// image copies whole out of it, builds on it and rebuilds work, du works, and no lease,
// pending removal or scratch dir is left.
func TestKillDuringPrune(t *testing.T) {
	requireHush(t)
	skopeo := hushtest.RequireBinary(t, "skopeo")
	e := hushtest.NewEnv(t, hushBin)
	e.WriteFile("app/Dockerfile", "FROM busybox\nRUN echo app > /app\n")
	e.WriteFile("big/Dockerfile", killDockerfile())
	e.WriteFile("on/Dockerfile", "FROM app:1\nRUN cat /app\n")
	if _, errOut, code := e.Run("build", "--progress=plain", "-t", "app:1", "app"); code != 0 {
		t.Fatalf("building app: %d\n%s", code, errOut)
	}
	killedMidway := 0
	// An unkilled prune of this cache takes about half a second here.
	delays := []time.Duration{5, 50, 150, 300, 450}
	for i, delay := range delays {
		delay *= time.Millisecond
		if _, errOut, code := e.Run("build", "--progress=plain", "--build-arg", "N="+strconv.Itoa(i), "-o", "out", "big"); code != 0 {
			t.Fatalf("building the cache to prune: %d\n%s", code, errOut)
		}
		cmd := e.Command("prune", "-af")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if !cmd.ProcessState.Exited() {
			killedMidway++
		}
		checkNothingLeft(t, e)
		checkStoreImages(t, skopeo, e.Root)
		for _, args := range [][]string{{"du"}, {"build", "--progress=plain", "on"},
			{"build", "--progress=plain", "--build-arg", "N=" + strconv.Itoa(i), "-o", "out", "big"}} {
			if _, errOut, code := e.Run(args...); code != 0 {
				t.Fatalf("after killing prune %v in: hush %v: %d\n%s", delay, args, code, tail(errOut, 20))
			}
		}
		if b, err := os.ReadFile(filepath.Join(e.Dir, "out", "d7", "150")); err != nil || string(b) != fmt.Sprintf("%d 7 150\n", i) {
			t.Fatalf("after killing prune %v in, the rebuilt tree holds %q (%v)", delay, b, err)
		}
	}
	if killedMidway == 0 {
		t.Fatal("every prune finished before it was killed: the test killed none midway")
	}
	t.Logf("%d of %d prunes killed midway", killedMidway, len(delays))
	checkNothingLeft(t, e)
}
