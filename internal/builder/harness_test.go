package builder

// The harness the orchestration tests build with: a builder on the in-process parts of
// fakes_test.go, a build context, and what a build did (RUN commands, output, sinks).

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/secret"
)

// openBuilder opens the state dir root with the fake runtime and copy mounts, and an audit
// ledger key of its own (a build keeps it on a tmpfs).
func openBuilder(t *testing.T, root string, rt executor.Runtime) *Builder {
	t.Helper()
	t.Setenv(registry.TmpfsDirEnv, t.TempDir()) // no key under /dev/shm from a test
	b, err := open(root, func(string) (executor.Runtime, error) { return rt, nil }, copyMounts{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("closing the builder: %v", err)
		}
	})
	if b.ledgerKey, err = secret.LoadFingerprintKey(filepath.Join(t.TempDir(), "ledger-key")); err != nil {
		t.Fatal(err)
	}
	return b
}

// harness builds Dockerfiles from one context dir with one builder.
type harness struct {
	t   *testing.T
	b   *Builder
	rt  *fakeRuntime
	dir string // the build context
}

func newHarness(t *testing.T) *harness {
	rt := newFakeRuntime()
	return &harness{t: t, b: openBuilder(t, t.TempDir(), rt), rt: rt, dir: t.TempDir()}
}

// file writes a file into the build context. In a Dockerfile, {{owner}} is the test's
// uid:gid: a COPY from the context without --chown makes files owned by root, which only
// root can do.
func (h *harness) file(name, content string) {
	h.t.Helper()
	content = strings.ReplaceAll(content, "{{owner}}", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()))
	if err := os.WriteFile(filepath.Join(h.dir, name), []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// outcome is what one build did.
type outcome struct {
	pub *Published
	err error
	ran []string // the RUN commands the runtime ran
	log string   // the plain progress output
}

// build builds the Dockerfile df from the context with req (its Context and Progress are
// filled in), giving up after a minute so that a deadlock fails the test.
func (h *harness) build(df string, req Request) outcome {
	h.t.Helper()
	h.file("Dockerfile", df)
	var log hushtest.Buffer
	disp, err := progress.New(&log, progress.ModePlain)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Context, req.Progress = h.dir, disp
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pub, err := h.b.Run(ctx, req)
	if cerr := disp.Close(); cerr != nil {
		h.t.Fatal(cerr)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		h.t.Fatalf("the build did not finish: %v\n%s", err, log.String())
	}
	return outcome{pub: pub, err: err, ran: h.rt.take(), log: log.String()}
}

// mustBuild is build that fails the test on an error.
func (h *harness) mustBuild(df string, req Request) outcome {
	h.t.Helper()
	o := h.build(df, req)
	if o.err != nil {
		h.t.Fatalf("build: %v\n%s", o.err, o.log)
	}
	return o
}

// publications records, in order, each Publish to the sinks it made.
type publications struct {
	names []string
	ids   []v1.Hash // the image each got
}

// sink is a sink that records its Publish calls and returns err.
func (p *publications) sink(name string, err error) Sink {
	return recordingSink{name: name, pubs: p, err: err}
}

type recordingSink struct {
	name string
	pubs *publications
	err  error
}

func (s recordingSink) Label() string { return "publishing to " + s.name }

func (s recordingSink) Publish(_ context.Context, a image.Artifact) error {
	id, err := a.Images[0].Image.ConfigName()
	if err != nil {
		return err
	}
	s.pubs.names = append(s.pubs.names, s.name)
	s.pubs.ids = append(s.pubs.ids, id)
	return s.err
}

// canarySecrets is a secret set holding one random value as secret id, and the value.
func canarySecrets(t *testing.T, id string) (*secret.Set, string) {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	value := "canary-" + hex.EncodeToString(b)
	set, err := secret.Load([]secret.Spec{{ID: id, Env: "CANARY"}}, func(string) (string, bool) { return value, true })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Wipe)
	return set, value
}

// fileInImage returns the content of /name in img (its last layer that has it).
func fileInImage(t *testing.T, img v1.Image, name string) (string, bool) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	content, found := "", false
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimPrefix(h.Name, "./") == name {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				content, found = string(b), true
			}
		}
		rc.Close()
	}
	return content, found
}
