package builder

// Cache export and import between state dirs ("machines"), through a local cache dir: the
// registry type is the same code with a registry behind it (cmd/hush's two-machine test).

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/remotecache"
	"github.com/hush-build/hush/internal/secret"
)

const multiStage = `FROM scratch AS tools
RUN write tool.txt t
FROM scratch
COPY --chown={{owner}} f.txt /
COPY --from=tools /tool.txt /
RUN write b.txt b
RUN write c.txt c
`

// machine is a state dir and a build context of its own, with f.txt in it.
func machine(t *testing.T) *harness {
	h := newHarness(t)
	h.file("f.txt", "content")
	return h
}

func toLocal(dir string, max bool) remotecache.Export {
	return remotecache.Export{Type: remotecache.TypeLocal, Dest: dir, Tag: remotecache.DefaultTag, Max: max, OCIMediaTypes: true}
}

func fromLocal(dir string) remotecache.Import {
	return remotecache.Import{Type: remotecache.TypeLocal, Src: dir, Tag: remotecache.DefaultTag}
}

// TestCacheAcrossMachines: a second state dir, with its context in another place (other
// paths, inodes and mtimes), builds from the first one's exported cache with every step
// cached and nothing run, and gets the identical image ID. mode=min carries only the
// target's steps: the tools stage runs again.
func TestCacheAcrossMachines(t *testing.T) {
	for _, tt := range []struct {
		name string
		max  bool
		ran  []string
	}{
		{"mode=max", true, nil},
		{"mode=min", false, []string{"write tool.txt t"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			a := machine(t)
			first := a.mustBuild(multiStage, Request{CacheTo: []remotecache.Export{toLocal(dir, tt.max)}})
			if len(first.ran) != 3 {
				t.Fatalf("the first machine ran %q", first.ran)
			}
			b := machine(t)
			second := b.mustBuild(multiStage, Request{CacheFrom: []remotecache.Import{fromLocal(dir)}})
			if !slices.Equal(second.ran, tt.ran) {
				t.Errorf("the second machine ran %q, want %q\n%s", second.ran, tt.ran, second.log)
			}
			if first.pub.ID != second.pub.ID {
				t.Errorf("image ID %s on the first machine, %s on the second", first.pub.ID, second.pub.ID)
			}
			if n, want := strings.Count(second.log, "CACHED"), 5-len(tt.ran); n != want {
				t.Errorf("%d CACHED steps, want %d:\n%s", n, want, second.log)
			}
			// The imported records are local now: a rebuild needs no cache-from.
			if again := b.mustBuild(multiStage, Request{}); len(again.ran) != 0 {
				t.Errorf("a rebuild after the import ran %q", again.ran)
			}
		})
	}
}

// TestCacheImportMissingIsAWarning: a cache that is not there yet (a first build) is skipped
// with a warning, as buildx does.
func TestCacheImportMissingIsAWarning(t *testing.T) {
	a := machine(t)
	o := a.mustBuild(multiStage, Request{CacheFrom: []remotecache.Import{fromLocal(filepath.Join(t.TempDir(), "none"))}})
	if !strings.Contains(o.log, "building without it") || len(o.ran) != 3 {
		t.Errorf("ran %q, log:\n%s", o.ran, o.log)
	}
}

// TestCacheImportTamperedBlob: a layer blob changed in the cache fails the build with an
// error naming the layer and the digest mismatch; nothing of it is kept in the store.
func TestCacheImportTamperedBlob(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	a := machine(t)
	first := a.mustBuild(multiStage, Request{CacheTo: []remotecache.Export{toLocal(dir, true)}})
	layers, err := first.pub.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := layers[len(layers)-1].Digest()
	blob := filepath.Join(dir, "blobs", "sha256", d.Hex)
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b := machine(t)
	o := b.build(multiStage, Request{CacheFrom: []remotecache.Import{fromLocal(dir)}})
	if !errors.Is(o.err, remotecache.ErrTampered) || !strings.Contains(o.err.Error(), d.String()) {
		t.Fatalf("build error %v, want a digest mismatch naming %s", o.err, d)
	}
	if _, ok := b.b.Images.Blob(d); ok {
		t.Error("the tampered layer's digest is in the store")
	}
}

// TestCacheExportIgnoreError: an export that fails fails the build (after the image was
// published, as buildx); with ignore-error=true it is a warning.
func TestCacheExportIgnoreError(t *testing.T) {
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "unrelated"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ignore := range []bool{false, true} {
		e := toLocal(bad, false)
		e.IgnoreError = ignore
		o := machine(t).build(multiStage, Request{CacheTo: []remotecache.Export{e}})
		if ignore {
			if o.err != nil || !strings.Contains(o.log, "not an OCI layout") {
				t.Errorf("ignore-error=true: %v\n%s", o.err, o.log)
			}
			continue
		}
		if o.err == nil || !strings.Contains(o.err.Error(), "not an OCI layout") {
			t.Errorf("ignore-error=false: error %v, want the export's", o.err)
		}
	}
}

// TestInlineCache: type=inline puts the target's records in the image manifest (the image
// ID does not change); another machine imports them from the image.
func TestInlineCache(t *testing.T) {
	layout := filepath.Join(t.TempDir(), "oci")
	a := machine(t)
	plain := a.mustBuild(multiStage, Request{})
	var pubs publications
	first := a.mustBuild(multiStage, Request{CacheTo: []remotecache.Export{{Type: remotecache.TypeInline}},
		Sinks: []Sink{pubs.sink("oci", nil), ociSink{layout}}})
	if first.pub.ID != plain.pub.ID {
		t.Errorf("inline cache changed the image ID: %s, then %s", plain.pub.ID, first.pub.ID)
	}
	m, err := first.pub.Image.Manifest()
	if err != nil || m.Annotations[remotecache.InlineAnnotation] == "" {
		t.Fatalf("no inline cache annotation: %v %v", m, err)
	}
	b := machine(t)
	im := fromLocal(layout)
	second := b.mustBuild(multiStage, Request{CacheFrom: []remotecache.Import{im}})
	if want := []string{"write tool.txt t"}; !slices.Equal(second.ran, want) {
		t.Errorf("ran %q, want only the tools stage (inline is mode=min)\n%s", second.ran, second.log)
	}
	if second.pub.ID != first.pub.ID {
		t.Errorf("image ID %s, want %s", second.pub.ID, first.pub.ID)
	}
}

// ociSink writes the image as an OCI layout tagged latest.
type ociSink struct{ dir string }

func (s ociSink) Label() string { return "writing " + s.dir }
func (s ociSink) Publish(_ context.Context, a image.Artifact) error {
	c, err := image.Compose(a, image.ExportOptions{})
	if err != nil {
		return err
	}
	return image.WriteOCILayout(c, s.dir, []string{"example/app:latest"})
}

// TestRebuildOnChangeExport: a step keyed on a rebuild-on-change secret's fingerprint under
// the state dir's own key is left out of the export, with a note (and the step after it,
// whose key chains to it); under a shared --fingerprint-key it is exported and the other
// machine reuses it.
func TestRebuildOnChangeExport(t *testing.T) {
	const df = "FROM scratch\nRUN write a.txt a\nRUN --mount=type=secret,id=tok write b.txt b\nRUN write c.txt c\n"
	keyFile := filepath.Join(t.TempDir(), "fp.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	shared, err := secret.ReadFingerprintKey(keyFile, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		key  *secret.FingerprintKey
		ran  []string
	}{
		{"own key", nil, []string{"write b.txt b", "write c.txt c"}},
		{"shared key", shared, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			req := func() Request {
				set, err := secret.Load([]secret.Spec{{ID: "tok", Env: "TOK", RebuildOnChange: true}},
					func(string) (string, bool) { return "a-token-value-0123456789", true })
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(set.Wipe)
				return Request{Secrets: set, FingerprintKey: tt.key}
			}
			ra := req()
			ra.CacheTo = []remotecache.Export{toLocal(dir, true)}
			first := machine(t).mustBuild(df, ra)
			bound := strings.Contains(first.log, "left out 2 step(s) keyed on a rebuild-on-change secret")
			if bound != (tt.key == nil) {
				t.Errorf("note about left-out steps: %v, want %v\n%s", bound, tt.key == nil, first.log)
			}
			rb := req()
			rb.CacheFrom = []remotecache.Import{fromLocal(dir)}
			if second := machine(t).mustBuild(df, rb); !slices.Equal(second.ran, tt.ran) {
				t.Errorf("the second machine ran %q, want %q", second.ran, tt.ran)
			}
		})
	}
}

// TestLeakingLayerIsNotExported: with --audit=warn a layer holding a secret is kept in the
// image but left out of the cache export (the canary is nowhere in the cache dir, in any
// encoding); with --audit=fail nothing is exported; with --audit=off no layer is.
func TestLeakingLayerIsNotExported(t *testing.T) {
	const df = "FROM scratch\nRUN write clean.txt clean\nRUN --mount=type=secret,id=tok,env=TOK write-env leak.txt TOK\n"
	for _, mode := range []string{"warn", "fail", "off"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			set, canary := canarySecrets(t, "tok")
			o := machine(t).build(df, Request{Secrets: set, Audit: mode, CacheTo: []remotecache.Export{toLocal(dir, true)}})
			if (o.err == nil) != (mode != "fail") {
				t.Fatalf("--audit=%s: %v\n%s", mode, o.err, o.log)
			}
			hushtest.NoCanary(t, []byte(canary), dir)
			cfg := readLocalConfig(t, dir)
			switch mode {
			case "fail":
				if cfg != nil {
					t.Errorf("a failed build exported %+v", cfg)
				}
			case "warn":
				if cfg == nil || len(cfg.Layers) != 1 || !strings.Contains(o.log, "left out 1 step(s) whose layers the audit found a secret in") {
					t.Errorf("exported %+v, want the clean layer only\n%s", cfg, o.log)
				}
			case "off":
				if cfg == nil || len(cfg.Layers) != 0 || !strings.Contains(o.log, "not audited") {
					t.Errorf("exported %+v, want no layer\n%s", cfg, o.log)
				}
			}
		})
	}
}

// TestImportedLayerIsAudited: a layer imported from another machine's cache is in the
// importing build's self-audit: a value of this build's secrets in it fails the build and
// purges the layer, as for a layer built here.
func TestImportedLayerIsAudited(t *testing.T) {
	set, canary := canarySecrets(t, "tok")
	df := "FROM scratch\nRUN write f.txt " + canary + "\n"
	dir := filepath.Join(t.TempDir(), "cache")
	machine(t).mustBuild(df, Request{CacheTo: []remotecache.Export{toLocal(dir, true)}})
	b := machine(t)
	o := b.build(df, Request{Secrets: set, CacheFrom: []remotecache.Import{fromLocal(dir)}})
	if len(o.ran) != 0 {
		t.Fatalf("ran %q, want the step imported", o.ran)
	}
	if o.err == nil || !strings.Contains(o.err.Error(), "audit found") {
		t.Fatalf("build error %v, want the audit's\n%s", o.err, o.log)
	}
	if again := b.build(df, Request{Secrets: set}); len(again.ran) != 1 {
		t.Errorf("the purged imported layer was reused: ran %q", again.ran)
	}
}

// readLocalConfig reads the cache config a local export wrote under its default tag; nil
// when there is none.
func readLocalConfig(t *testing.T, dir string) *remotecache.Config {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, raw)
	}
	var m v1.Manifest
	readJSON(t, filepath.Join(dir, "blobs", "sha256", idx.Manifests[0].Digest.Hex), &m)
	var c remotecache.Config
	readJSON(t, filepath.Join(dir, "blobs", "sha256", m.Config.Digest.Hex), &c)
	return &c
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
