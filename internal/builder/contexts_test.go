package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/image"
)

// TestNamedContexts: --build-context NAME=… stands for what the Dockerfile names NAME: a
// local directory for COPY --from (with its own .dockerignore), an image or an OCI layout
// for FROM, COPY --from and a whole stage of that name, which is then not built.
func TestNamedContexts(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	for name, body := range map[string]string{"lib.txt": "from-dir", "secret.env": "x", ".dockerignore": "secret.env\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := h.mustBuild("FROM scratch\nRUN write base.txt from-image\n", Request{})
	if _, err := h.b.Images.Put(base.pub.Image, "other:1"); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	c, err := image.Single(base.pub.Image)
	if err != nil {
		t.Fatal(err)
	}
	if err := image.WriteOCILayout(c, layout, []string{"laid:v2"}); err != nil {
		t.Fatal(err)
	}
	const df = `FROM scratch AS builder
RUN fail
FROM alpine
COPY --chown={{owner}} --from=lib /lib.txt /
COPY --chown={{owner}} --from=builder /base.txt /from-builder.txt
COPY --chown={{owner}} --from=laid /base.txt /from-layout.txt
`
	o := h.mustBuild(df, Request{Contexts: map[string]NamedContext{
		"lib":     {Kind: ContextDir, Ref: dir},
		"alpine":  {Kind: ContextImage, Ref: "other:1"},
		"builder": {Kind: ContextImage, Ref: "other:1"},
		"laid":    {Kind: ContextOCILayout, Ref: layout, Tag: "v2"},
	}})
	if len(o.ran) != 0 {
		t.Errorf("ran %q: the replaced stage builder was built", o.ran)
	}
	for name, want := range map[string]string{"lib.txt": "from-dir", "base.txt": "from-image", "from-builder.txt": "from-image", "from-layout.txt": "from-image"} {
		if got, ok := fileInImage(t, o.pub.Image, name); !ok || got != want {
			t.Errorf("/%s = %q (%v), want %q", name, got, ok, want)
		}
	}
	if _, ok := fileInImage(t, o.pub.Image, "secret.env"); ok {
		t.Error("the context's .dockerignore was not applied")
	}
	bad := h.build("FROM lib\n", Request{Contexts: map[string]NamedContext{"lib": {Kind: ContextDir, Ref: dir}}})
	if bad.err == nil || !strings.Contains(bad.err.Error(), "COPY --from=lib and RUN --mount=from=lib work") {
		t.Errorf("FROM a local context: err = %v", bad.err)
	}
}
