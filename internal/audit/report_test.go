package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenImage has one leak of each kind, deterministically.
func goldenImage(t *testing.T) v1.Image {
	img := imageOf(t, func(c *v1.ConfigFile) {
		c.Config.Env = []string{"PATH=/bin", "TOKEN=" + canary}
		c.History = []v1.History{{CreatedBy: "ADD rootfs /"}, {CreatedBy: "RUN curl -H 'x: " + canary + "'"}}
	},
		layerOf(t, "gzip", file{name: "etc/a", content: []byte("a " + canary)}, file{name: "etc/clean", content: []byte("ok")}),
		layerOf(t, "zstd", file{name: "etc/.wh.a"}, file{name: "blob", content: b64Embedded(2)},
			file{name: "keys/id", content: []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n")}))
	return mutate.Annotations(img, map[string]string{"org.example.k": "k=" + canary}).(v1.Image)
}

func TestReportGolden(t *testing.T) {
	r := scan(t, goldenImage(t), map[string][]byte{"tok": []byte(canary), "unused": []byte("never-there")}, Options{Detect: true})
	r.Stats.DurationMS = 0
	r.Target = "golden:latest"
	got, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "report.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report differs from %s (run with -update):\n%s", golden, got)
	}
	if bytes.Contains(got, []byte(canary)) {
		t.Errorf("report contains the secret value")
	}
	if _, err := ParseReport(got); err != nil {
		t.Errorf("golden report does not parse strictly: %v", err)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), canary) || !strings.Contains(text.String(), "(deleted by a later layer)") {
		t.Errorf("text report:\n%s", text.String())
	}
}

// TestSpecFixtures parses docs/spec/audit-report.md's fixtures: every file under
// testdata/spec/valid must parse, every one under testdata/spec/invalid must not.
func TestSpecFixtures(t *testing.T) {
	for _, dir := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join("testdata", "spec", dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no fixtures in %s: %v", dir, err)
		}
		for _, f := range files {
			t.Run(dir+"/"+filepath.Base(f), func(t *testing.T) {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				r, err := ParseReport(b)
				if dir == "valid" {
					if err != nil {
						t.Fatalf("valid fixture rejected: %v", err)
					}
					// Round trip: re-encoding loses nothing the spec defines.
					again, _ := json.Marshal(r)
					if _, err := ParseReport(again); err != nil {
						t.Errorf("re-encoded fixture rejected: %v", err)
					}
					return
				}
				if !errors.Is(err, ErrInvalidReport) {
					t.Errorf("invalid fixture accepted (err %v)", err)
				}
			})
		}
	}
}
