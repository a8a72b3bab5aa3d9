package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestRmiDuringBuild removes the base image of a running build while its RUN step sleeps.
// The build must still finish and store a complete image: its lease holds the base's blobs
// and layers, whose removal waits until the build ends. Once no image and no build uses
// them, nothing is left pending.
func TestRmiDuringBuild(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	e.WriteFile("base/Dockerfile", "FROM busybox\nRUN echo from-base > /base\n")
	if out, errOut, code := e.Run("build", "--progress=plain", "-t", "base", "base"); code != 0 {
		t.Fatalf("building base: %d\n%s%s", code, out, errOut)
	}
	e.WriteFile("child/Dockerfile", "FROM base\nRUN echo step-started && sleep 3\nRUN cat /base\n")
	cmd := e.Command("build", "--progress=plain", "-t", "child", "child")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var log strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "step-started") {
				once = true
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the child build's RUN step did not start")
	}
	if out, errOut, code := e.Run("rmi", "base"); code != 0 {
		t.Fatalf("rmi base during the build: %d\n%s%s", code, out, errOut)
	}
	<-done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the build whose base was removed failed: %v\n%s", err, log.String())
	}
	// The child image is complete: a build on it reads the base's layer.
	e.WriteFile("grandchild/Dockerfile", "FROM child\nRUN grep from-base /base\n")
	if out, errOut, code := e.Run("build", "--progress=plain", "grandchild"); code != 0 {
		t.Fatalf("building on the child: %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := e.Run("rmi", "child"); code != 0 {
		t.Fatalf("rmi child: %d\n%s%s", code, out, errOut)
	}
	for _, pattern := range []string{"leases/pending/*", "leases/*.lease"} {
		if left, _ := filepath.Glob(filepath.Join(e.Root, pattern)); len(left) > 0 {
			t.Errorf("left behind after every build ended: %v", left)
		}
	}
	if _, err := os.Stat(filepath.Join(e.Root, "leases")); err != nil {
		t.Errorf("no lease dir: %v", err)
	}
}
