package builder

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/hushtest"
)

const leakStep = "write-env leak.txt TOK"

// TestLeakFailsTheBuildAndPublishesNothing: a step that writes a secret value into its
// layer — in the image, or in a stage the image only copies other files from — fails the
// build before any sink is called; the error names the stage and Dockerfile:LINE, never the
// value; the layer is purged from the cache, the blob store and the snapshots, so the next
// build runs the step again.
func TestLeakFailsTheBuildAndPublishesNothing(t *testing.T) {
	tests := []struct {
		name, df, want string
	}{
		{"in the image", `FROM scratch
RUN write ok.txt ok
RUN --mount=type=secret,id=tok,env=TOK ` + leakStep + `
`, "stage stage-0, Dockerfile:3 RUN"},
		{"in a stage the image copies another file from", `FROM scratch AS leaky
RUN --mount=type=secret,id=tok,env=TOK ` + leakStep + `
RUN write ok.txt ok
FROM scratch
COPY --from=leaky /ok.txt /
`, "stage leaky, Dockerfile:2 RUN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			secrets, value := canarySecrets(t, "tok")
			var pubs publications
			req := Request{Secrets: secrets, Audit: "fail", Sinks: []Sink{pubs.sink("store", nil)}}
			o := h.build(tt.df, req)
			if o.err == nil {
				t.Fatal("the build succeeded")
			}
			msg := o.err.Error()
			for _, want := range []string{"secret tok", tt.want, "nothing was published"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not say %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, value) || strings.Contains(o.log, value) {
				t.Errorf("the secret value is in the error or the output:\n%s\n%s", msg, o.log)
			}
			if len(pubs.names) != 0 {
				t.Errorf("published to %q", pubs.names)
			}
			checkPurged(t, h.b, removedDigests(t, msg), value)
			if again := h.build(tt.df, req); !slices.Contains(again.ran, leakStep) {
				t.Errorf("the next build reused the leaking layer (ran %q)", again.ran)
			}
		})
	}
}

// TestFailedBuildLeakIsPurged: a build that fails after a step leaked is audited on the way
// out; its error stays the failed step's, and the leaking layer is purged all the same.
func TestFailedBuildLeakIsPurged(t *testing.T) {
	const df = `FROM scratch
RUN --mount=type=secret,id=tok,env=TOK ` + leakStep + `
RUN fail
`
	h := newHarness(t)
	secrets, value := canarySecrets(t, "tok")
	req := Request{Secrets: secrets, Audit: "fail"}
	o := h.build(df, req)
	if o.err == nil || !strings.Contains(o.err.Error(), "Dockerfile:3") {
		t.Fatalf("error %v, want the failed step's (Dockerfile:3)", o.err)
	}
	if !strings.Contains(o.log, "the failed build's layers: audit found 1 secret leak(s)") {
		t.Errorf("no warning about the failed build's leak:\n%s", o.log)
	}
	if strings.Contains(o.log, value) {
		t.Errorf("the secret value is in the output:\n%s", o.log)
	}
	checkPurged(t, h.b, removedDigests(t, o.log), value)
	if again := h.build(df, req); !slices.Contains(again.ran, leakStep) {
		t.Errorf("the next build reused the leaking layer (ran %q)", again.ran)
	}
}

// removedDigests are the layers an audit report says it removed (at least one).
func removedDigests(t *testing.T, report string) []v1.Hash {
	t.Helper()
	var out []v1.Hash
	for _, m := range removedLayers.FindAllStringSubmatch(report, -1) {
		d, err := v1.NewHash(m[1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		t.Fatalf("the report names no removed layer:\n%s", report)
	}
	return out
}

// checkPurged fails when a cache record or the blob store still holds one of the layers, or
// a file anywhere in the state dir (an unpacked layer, a blob, a workspace) holds value.
func checkPurged(t *testing.T, b *Builder, digests []v1.Hash, value string) {
	t.Helper()
	records, err := os.ReadDir(b.Cache.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range digests {
		if p, ok := b.Images.Blob(d); ok {
			t.Errorf("layer %s is still in the blob store at %s", d, p)
		}
		for _, e := range records {
			key := "sha256:" + strings.TrimSuffix(e.Name(), ".json")
			if r, ok := b.Cache.Get(key); ok && r.Layer != nil && r.Layer.Digest == d.String() {
				t.Errorf("cache record %s still names layer %s", key, d)
			}
		}
	}
	hushtest.NoCanary(t, []byte(value), b.Root())
}

// TestCleanBuildPublishesToEverySinkInOrder: an audited build that found nothing hands the
// image to its sinks in order, each once, after the audit; a sink's failure stops there and
// is the build's error.
func TestCleanBuildPublishesToEverySinkInOrder(t *testing.T) {
	const df = "FROM scratch\nRUN --mount=type=secret,id=tok,env=TOK write ok.txt ok\n"
	sinkErr := errors.New("disk full")
	tests := []struct {
		name     string
		firstErr error
		want     []string
	}{
		{"every sink", nil, []string{"first", "second"}},
		{"the first sink fails", sinkErr, []string{"first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			secrets, _ := canarySecrets(t, "tok")
			var pubs publications
			sinks := []Sink{pubs.sink("first", tt.firstErr), pubs.sink("second", nil)}
			o := h.build(df, Request{Secrets: secrets, Audit: "fail", Sinks: sinks})
			if !errors.Is(o.err, tt.firstErr) {
				t.Fatalf("error %v, want %v", o.err, tt.firstErr)
			}
			if !slices.Equal(pubs.names, tt.want) {
				t.Errorf("published to %q, want %q", pubs.names, tt.want)
			}
			if o.err == nil {
				for _, id := range pubs.ids {
					if id != o.pub.ID {
						t.Errorf("a sink got image %s, the build made %s", id, o.pub.ID)
					}
				}
			}
			audited, first := strings.Index(o.log, "auditing every layer"), strings.Index(o.log, "publishing to first")
			if audited < 0 || first < audited {
				t.Errorf("the audit did not run before the first sink (at %d, %d):\n%s", audited, first, o.log)
			}
		})
	}
}

// removedLayers are the layers an audit's error says it purged.
var removedLayers = regexp.MustCompile(`layer (sha256:[0-9a-f]{64}) was removed`)

var auditStats = regexp.MustCompile(`(\d+) layer\(s\) read, (\d+) already audited clean`)

// TestLedgerSkipsLayersAuditedClean: once a build's layers were audited clean for a value, a
// rebuild with the same value reads none of them again; a new value reads them all.
func TestLedgerSkipsLayersAuditedClean(t *testing.T) {
	const df = "FROM scratch\nRUN write one 1\nRUN --mount=type=secret,id=tok,env=TOK write two 2\n"
	h := newHarness(t)
	same, _ := canarySecrets(t, "tok")
	other, _ := canarySecrets(t, "tok")
	steps := []struct {
		name          string
		req           Request
		read, skipped int
	}{
		{"first build", Request{Secrets: same}, 2, 0},
		{"rebuild, same value", Request{Secrets: same}, 0, 2},
		{"rebuild, another value", Request{Secrets: other}, 2, 0},
	}
	for _, s := range steps {
		s.req.Audit = "fail"
		o := h.mustBuild(df, s.req)
		m := auditStats.FindStringSubmatch(o.log)
		if m == nil {
			t.Fatalf("%s: no audit statistics in the output:\n%s", s.name, o.log)
		}
		if read, _ := strconv.Atoi(m[1]); read != s.read {
			t.Errorf("%s: %d layer(s) read, want %d", s.name, read, s.read)
		}
		if skipped, _ := strconv.Atoi(m[2]); skipped != s.skipped {
			t.Errorf("%s: %d layer(s) skipped as audited clean, want %d", s.name, skipped, s.skipped)
		}
	}
}
