package codeship

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden plan files")

// testVars are fixed build variables for golden plans.
var testVars = Vars{
	ProjectID: "project-1", BuildID: "build-42", RepoName: "example", Branch: "master",
	CommitID: "0123456789abcdef0123456789abcdef01234567", CommitMessage: "Fix the thing",
	CommitDescription: "v1.2.0-3-g0123456", CommitterName: "Jane Doe", CommitterEmail: "jane@example.com",
	Time: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
}

// TestGoldenPlans loads each pipeline under testdata/pipelines (modelled on real
// repositories; see testdata/README.md) and compares its dry-run plan, JSON and text,
// with the golden files there. A file named tag holds the build tag (default master).
func TestGoldenPlans(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "pipelines", "*"))
	if err != nil || len(dirs) < 12 {
		t.Fatalf("want at least 12 pipelines, found %d (%v)", len(dirs), err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tag := "master"
			if b, err := os.ReadFile(filepath.Join(dir, "tag")); err == nil {
				tag = strings.TrimSpace(string(b))
			}
			p, err := Load(Files{Dir: dir})
			if err != nil {
				t.Fatalf("loading: %v", err)
			}
			pl, err := p.Plan(tag, false, testVars)
			if err != nil {
				t.Fatalf("planning: %v", err)
			}
			var js, txt bytes.Buffer
			if err := pl.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if err := pl.WriteText(&txt); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "plan.json"), js.Bytes())
			golden(t, filepath.Join(dir, "plan.txt"), txt.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to write it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the plan:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
