package gitsource

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
)

// fixture is a bare repository with known history:
//
//	c1 (tag v1, annotated; a.txt=v1, sub/b.txt)  ← c2 (main, HEAD; a.txt=v2)
//	c1 ← c3 (branch feature; feature.txt)
type fixture struct {
	bare       string // path of repo.git
	c1, c2, c3 string
}

// fixtureGit runs git for building fixtures, isolated from the host's configuration.
func fixtureGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_AUTHOR_DATE=2020-01-01T00:00:00Z",
		"GIT_COMMITTER_DATE=2020-01-01T00:00:00Z",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// newFixture builds the fixture repository under root as root/repo.git.
func newFixture(t *testing.T, root string) fixture {
	t.Helper()
	hushtest.RequireBinary(t, "git")
	work := filepath.Join(t.TempDir(), "work")
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	fixtureGit(t, work, "init", "-q", "-b", "main")
	write("a.txt", "v1\n")
	write("sub/b.txt", "in sub\n")
	fixtureGit(t, work, "add", ".")
	fixtureGit(t, work, "commit", "-q", "-m", "c1")
	var f fixture
	f.c1 = fixtureGit(t, work, "rev-parse", "HEAD")
	fixtureGit(t, work, "tag", "-a", "-m", "release v1", "v1")
	fixtureGit(t, work, "checkout", "-q", "-b", "feature")
	write("feature.txt", "feature\n")
	fixtureGit(t, work, "add", ".")
	fixtureGit(t, work, "commit", "-q", "-m", "c3")
	f.c3 = fixtureGit(t, work, "rev-parse", "HEAD")
	fixtureGit(t, work, "checkout", "-q", "main")
	write("a.txt", "v2\n")
	fixtureGit(t, work, "commit", "-q", "-am", "c2")
	f.c2 = fixtureGit(t, work, "rev-parse", "HEAD")
	f.bare = filepath.Join(root, "repo.git")
	fixtureGit(t, root, "clone", "-q", "--bare", work, f.bare)
	return f
}

// argvMonitor records the command line of every process it sees in /proc while running.
type argvMonitor struct {
	mu   sync.Mutex
	seen map[string]bool
	stop chan struct{}
	done chan struct{}
	self string
}

func startArgvMonitor() *argvMonitor {
	m := &argvMonitor{seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{}),
		self: strconv.Itoa(os.Getpid())}
	go m.loop()
	return m
}

func (m *argvMonitor) loop() {
	defer close(m.done)
	for {
		select {
		case <-m.stop:
			return
		default:
		}
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if e.Name() == m.self || e.Name()[0] < '0' || e.Name()[0] > '9' {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil || len(b) == 0 {
				continue
			}
			s := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
			m.mu.Lock()
			m.seen[s] = true
			m.mu.Unlock()
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// Stop ends the monitor and returns every distinct command line seen.
func (m *argvMonitor) Stop() []string {
	close(m.stop)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for s := range m.seen {
		out = append(out, s)
	}
	return out
}

// installArgvLogger puts a git wrapper first on PATH that logs its argv to the returned
// file before running the real git.
func installArgvLogger(t *testing.T) string {
	t.Helper()
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "argv.log")
	script := "#!/bin/sh\nprintf '%s\\n' \"$0 $*\" >> '" + log + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return log
}

// assertNoLeak fails t when any canary (or an encoding of it) appears in any of texts.
func assertNoLeak(t *testing.T, where string, texts []string, canaries ...string) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "texts")
	if err := os.WriteFile(p, []byte(strings.Join(texts, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range canaries {
		if hits, err := hushtest.FindCanary([]byte(c), p); err != nil || len(hits) > 0 {
			t.Errorf("credential %q leaked into %s (err %v)", c, where, err)
		}
	}
}

// startProcess starts a long-running helper, stopped when t ends; its output goes to out.
func startProcess(t *testing.T, out io.Writer, name string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	return cmd
}

// TestArgvMonitorSeesShortProcesses makes sure the leak checks above can fail: a process
// living 50ms with a canary in its argv must be seen.
func TestArgvMonitorSeesShortProcesses(t *testing.T) {
	hushtest.RequireBinary(t, "sh")
	const canary = "canary-argv-7d1f"
	mon := startArgvMonitor()
	if out, err := exec.Command("sh", "-c", "sleep 0.05", canary).CombinedOutput(); err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	seen := mon.Stop()
	if !strings.Contains(strings.Join(seen, "\n"), canary) {
		t.Fatalf("monitor missed a 50ms process with %q in its argv (%d command lines seen)", canary, len(seen))
	}
}
