package cli

import (
	"archive/tar"
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hush-build/hush/internal/image"
)

var update = flag.Bool("update", false, "rewrite the golden files of the image command tests")

// fixtureImage is an image of one layer holding the files, with the config's created
// time, labels and history as given (a zero created time is none, shown as N/A).
func fixtureImage(t *testing.T, created time.Time, labels map[string]string, files map[string]string, history ...v1.History) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, files[name])
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: l})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", "amd64", v1.Time{Time: created}
	cf.Config.Labels, cf.Config.Env = labels, []string{"PATH=/usr/bin:/bin"}
	cf.History = history
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// fixtureRoot is a state dir whose store holds: app:1 and app:latest (one image, labelled
// tier=web, also named by digest), tools:2.0 (labelled tier=ops), and a dangling image.
// No image has a creation time, so every CREATED column reads N/A.
func fixtureRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	s, err := image.OpenStore(filepath.Join(root, "store"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	app := fixtureImage(t, time.Time{}, map[string]string{"tier": "web"}, map[string]string{"app/server": "0123456789"},
		v1.History{Created: v1.Time{Time: old}, CreatedBy: "COPY server /app/ # buildkit", Comment: "buildkit.dockerfile.v0"},
		v1.History{Created: v1.Time{Time: old}, CreatedBy: "CMD [\"/app/server\", \"--listen\", \"0.0.0.0:8080\", \"--verbose\"]", Comment: "buildkit.dockerfile.v0", EmptyLayer: true})
	d, _ := app.Digest()
	for _, put := range []struct {
		img   v1.Image
		names []string
	}{
		{app, []string{"app:1", "app:latest", "app@" + d.String()}},
		{fixtureImage(t, time.Time{}, map[string]string{"tier": "ops"}, map[string]string{"bin/tool": "toolbytes"}), []string{"tools:2.0"}},
		{fixtureImage(t, time.Time{}, nil, map[string]string{"orphan": "x"}), nil},
	} {
		if _, err := s.Put(put.img, put.names...); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// runAt runs the CLI against a state dir and fails unless it exits 0.
func runAt(t *testing.T, root string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := Execute(t.Context(), append([]string{"--root", root}, args...), &out, &errOut); code != 0 {
		t.Fatalf("hush %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

// TestImageCommandsGolden: images, history and inspect print what docker prints, for the
// default table and docker's flags and templates (testdata/imagecmds/*.golden; go test
// -update rewrites them).
func TestImageCommandsGolden(t *testing.T) {
	root := fixtureRoot(t)
	tests := []struct {
		golden string
		args   []string
	}{
		{"images", []string{"images"}},
		{"images-all", []string{"images", "-a"}},
		{"images-quiet", []string{"images", "-q"}},
		{"images-no-trunc", []string{"images", "--no-trunc"}},
		{"images-digests", []string{"images", "--digests"}},
		{"images-format", []string{"images", "--format", "{{.Repository}}:{{.Tag}}"}},
		{"images-format-table", []string{"images", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.Size}}"}},
		{"images-json", []string{"images", "--format", "{{json .}}"}},
		{"images-arg", []string{"images", "app"}},
		{"images-arg-tag", []string{"images", "app:1"}},
		{"images-filter-reference", []string{"images", "--filter", "reference=too*"}},
		{"images-filter-label", []string{"images", "--filter", "label=tier=web"}},
		{"images-filter-dangling", []string{"images", "--filter", "dangling=true", "-q"}},
		{"history", []string{"history", "app:1"}},
		{"history-no-trunc", []string{"history", "--no-trunc", "app:1"}},
		{"history-quiet", []string{"history", "-q", "app:1"}},
		{"history-not-human", []string{"history", "-H=false", "app:1"}},
		{"history-format", []string{"history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}", "app:1"}},
		{"history-json", []string{"history", "--format", "{{json .}}", "tools:2.0"}},
		{"inspect", []string{"inspect", "app:1"}},
		{"inspect-several", []string{"inspect", "--format", "{{.Id}} {{.RepoTags}} {{index .Config.Labels \"tier\"}} {{.RootFS.Layers}} {{.Size}}", "app", "tools:2.0"}},
		{"inspect-json", []string{"inspect", "--format", "json", "tools:2.0"}},
		{"inspect-template-funcs", []string{"inspect", "--format", "{{json .Config.Labels}} {{join .RepoTags \",\"}} {{upper .Os}} {{.Architecture | title}}", "app:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got := runAt(t, root, tt.args...)
			path := filepath.Join("testdata", "imagecmds", tt.golden+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("hush %s:\n%s\nwant (%s):\n%s", strings.Join(tt.args, " "), got, path, want)
			}
		})
	}
}

// TestImageCommandsRelativeTimes: CREATED shows docker's relative times ("3 minutes ago").
func TestImageCommandsRelativeTimes(t *testing.T) {
	root := t.TempDir()
	s, err := image.OpenStore(filepath.Join(root, "store"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-3*time.Minute - 10*time.Second).UTC()
	img := fixtureImage(t, at, nil, map[string]string{"f": "x"}, v1.History{Created: v1.Time{Time: at.Add(-2 * time.Hour)}, CreatedBy: "ADD f /"})
	if _, err := s.Put(img, "recent:1"); err != nil {
		t.Fatal(err)
	}
	if out := runAt(t, root, "images"); !strings.Contains(out, "   3 minutes ago   ") {
		t.Errorf("images:\n%s\nwant CREATED 3 minutes ago", out)
	}
	if out := runAt(t, root, "history", "recent:1"); !strings.Contains(out, "   2 hours ago   ") {
		t.Errorf("history:\n%s\nwant CREATED 2 hours ago", out)
	}
}

// TestImageCommandErrors: a missing image fails inspect after printing the ones found, and
// bad filters name the filter, as docker does.
func TestImageCommandErrors(t *testing.T) {
	root := fixtureRoot(t)
	var out, errOut bytes.Buffer
	code := Execute(t.Context(), []string{"--root", root, "inspect", "--format", "{{.RepoTags}}", "tools:2.0", "nosuch:1"}, &out, &errOut)
	if code != 1 || out.String() != "[tools:2.0]\n" || !strings.Contains(errOut.String(), "ERROR: No such image: nosuch:1") {
		t.Errorf("inspect with a missing image: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	for args, want := range map[string]string{
		"images --filter nope":           "bad format of filter (expected name=value)",
		"images --filter color=red":      "invalid filter 'color'",
		"images --filter dangling=maybe": "invalid filter 'dangling=[maybe]'",
		"images --filter before=nosuch":  "No such image: nosuch",
		"history nosuch":                 "No such image: nosuch",
		"inspect --format {{.Nope app:1": "template parsing error",
	} {
		out.Reset()
		errOut.Reset()
		code := Execute(t.Context(), append([]string{"--root", root}, strings.Fields(args)...), &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), want) {
			t.Errorf("hush %s: exit %d, stderr %q; want %q", args, code, errOut.String(), want)
		}
	}
}

// TestVersion: hush version and hush --version print the version (docker's forms).
func TestVersion(t *testing.T) {
	root := t.TempDir()
	if out := runAt(t, root, "--version"); !strings.HasPrefix(out, "hush version ") || strings.Count(out, "\n") != 1 {
		t.Errorf("--version: %q", out)
	}
	if out := runAt(t, root, "version"); !strings.Contains(out, "Follows:      docker buildx "+buildxVersion) {
		t.Errorf("version:\n%s", out)
	}
	if out := runAt(t, root, "version", "--format", "{{.Buildx}}"); out != buildxVersion+"\n" {
		t.Errorf("version --format: %q", out)
	}
}

// TestCompletion: shell completion offers the store's image names and buildx's flag values.
func TestCompletion(t *testing.T) {
	root := fixtureRoot(t)
	for args, want := range map[string][]string{
		"__complete inspect ap":              {"app:1", "app:latest", "app@sha256:"},
		"__complete history ":                {"tools:2.0", "app:1"},
		"__complete build --progress ":       {"rawjson", "plain", "none"},
		"__complete build --platform linux/": {"linux/arm64"},
		"__complete build --call ":           {"check", "outline", "targets"},
	} {
		out := runAt(t, root, strings.Split(args, " ")...)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("hush %s:\n%s\nwant %q", args, out, w)
			}
		}
	}
}
