package pipeline

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hush-build/hush/internal/codeship"
)

// TestPrefixWriter: each complete line gets the prefix and goes out in one write, a
// partial line waits for its end, Close flushes a last unterminated line.
func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	lw := &lockedWriter{w: &out}
	a, b := newPrefixWriter(lw, "a | "), newPrefixWriter(lw, "b | ")
	a.Write([]byte("one\ntw"))
	b.Write([]byte("x\n"))
	a.Write([]byte("o\nthree"))
	a.Close()
	b.Close()
	if got, want := out.String(), "a | one\nb | x\na | two\na | three\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestPrefixWriterConcurrent: lines of writers running side by side never mix.
func TestPrefixWriterConcurrent(t *testing.T) {
	var out bytes.Buffer
	lw := &lockedWriter{w: &out}
	var wg sync.WaitGroup
	for _, p := range []string{"x", "y", "z"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newPrefixWriter(lw, p+" | ")
			for i := 0; i < 200; i++ {
				w.Write([]byte(strings.Repeat(p, 10)))
				w.Write([]byte("\n"))
			}
		}()
	}
	wg.Wait()
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		p := line[:1]
		if line != p+" | "+strings.Repeat(p, 10) {
			t.Fatalf("mixed line %q", line)
		}
	}
}

// TestCredentials: every secret field of a dockercfg (and the password inside auth) is
// found, in both the config.json and the legacy form.
func TestCredentials(t *testing.T) {
	for _, cfg := range []string{
		`{"auths":{"r.example":{"auth":"dXNlcjpzM2NyZXQtcGFzcw=="},"q.example":{"identitytoken":"tok-123456"}}}`,
		`{"r.example":{"auth":"dXNlcjpzM2NyZXQtcGFzcw==","email":"x"},"q.example":{"identitytoken":"tok-123456"}}`,
	} {
		var got []string
		for _, c := range credentials([]byte(cfg)) {
			got = append(got, string(c))
		}
		joined := strings.Join(got, ",")
		for _, want := range []string{"dXNlcjpzM2NyZXQtcGFzcw==", "s3cret-pass", "tok-123456"} {
			if !strings.Contains(joined, want) {
				t.Errorf("%s: %q not found in %v", cfg, want, got)
			}
		}
		if strings.Contains(joined, "user") && !strings.Contains(joined, "dXNlcjpz") {
			t.Errorf("the user name is not a secret: %v", got)
		}
	}
}

// TestAuditAdvice: the advice names the encrypted args the audit found, only those, and
// only for audit failures.
func TestAuditAdvice(t *testing.T) {
	err := errors.New("audit found 1 secret leak(s); nothing was published:\n  secret NPM_TOKEN (raw) in history created_by")
	if a := auditAdvice(err, []string{"GEM_TOKEN", "NPM_TOKEN"}); !strings.Contains(a, "RUN --mount=type=secret,id=NPM_TOKEN,env=NPM_TOKEN") ||
		strings.Contains(a, "GEM_TOKEN") || !strings.Contains(a, "--audit=warn") {
		t.Errorf("advice: %q", a)
	}
	if a := auditAdvice(errors.New("RUN failed"), []string{"NPM_TOKEN"}); a != "" {
		t.Errorf("advice for a failure that is not a leak: %q", a)
	}
}

// TestVolumeConfinement: relative volume paths stay inside the pipeline's directory,
// also through a symlink, and nothing is created for a refused one.
func TestVolumeConfinement(t *testing.T) {
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(base, filepath.Join(repo, "up")); err != nil {
		t.Fatal(err)
	}
	r := &run{p: &codeship.Pipeline{Dir: repo, Services: &codeship.Services{Dir: repo, File: filepath.Join(repo, "codeship-services.yml")}}}
	file := r.p.Services.File
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"./out", true}, {"./", true}, {"../elsewhere", false}, {"./up/escape/deeper", false}, {"./a/../../b", false},
	} {
		_, _, err := r.volume(codeship.Volume{Host: tc.host, Container: "/x", Line: 3}, file)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.host, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errClimb) {
			t.Errorf("%s: %v, want errClimb", tc.host, err)
		}
	}
	for _, p := range []string{filepath.Join(base, "elsewhere"), filepath.Join(base, "escape"), filepath.Join(base, "b")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created for a refused volume", p)
		}
	}
}

// TestLinkedOrder: linked services come dependencies first, with their aliases, and a
// cycle is an error.
func TestLinkedOrder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "codeship-services.yml"), []byte(`app:
  image: busybox
  links: ["api:backend"]
  depends_on: [cache]
api:
  image: busybox
  links: [db]
db:
  image: busybox
cache:
  image: busybox
loop1:
  image: busybox
  links: [loop2]
loop2:
  image: busybox
  links: [loop1]
`), 0o644)
	p, err := codeship.Load(codeship.Files{Dir: dir, NoSteps: true})
	if err != nil {
		t.Fatal(err)
	}
	r := &run{p: p}
	app, _ := p.Services.Get("app")
	order, names, err := r.linked(app)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range order {
		got = append(got, s.Name)
	}
	if strings.Join(got, ",") != "cache,db,api" {
		t.Errorf("start order %v, want cache,db,api", got)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "api app backend cache db" {
		t.Errorf("host names %v", names)
	}
	loop, _ := p.Services.Get("loop1")
	if _, _, err := r.linked(loop); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
}
