package builder

import (
	"encoding/hex"
	"os"
	"strings"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/plan"
	"github.com/hush-build/hush/internal/progress"
)

// BuildKit's [internal] steps, shown as its plain log shows them for what hush reads.

// showInputs shows the loading of the Dockerfile and the .dockerignore (its size, or an
// empty one's 2 bytes, as BuildKit transfers "[]").
func showInputs(disp *progress.Display, in *inputs) {
	if disp == nil {
		return
	}
	s := disp.Start("[internal] load build definition from " + in.dockerfile.Name)
	s.Status("transferring dockerfile:", int64(len(in.dockerfile.Source)), 0)
	s.Done(nil)
	size := int64(2)
	if f := in.context.IgnoreFile(); f != "" {
		if fi, err := os.Stat(f); err == nil {
			size = fi.Size()
		}
	}
	s = disp.Start("[internal] load .dockerignore")
	s.Status("transferring context:", size, 0)
	s.Done(nil)
}

// showContextLoad shows "[internal] load build context" once per build, when a step
// first reads the context.
func (r *run) showContextLoad() {
	if r.opts.Progress == nil {
		return
	}
	once := r.opts.contextShown
	if once == nil {
		once = &r.ctxShown
	}
	once.Do(func() { r.opts.Progress.Start("[internal] load build context").Done(nil) })
}

// startMetadata starts BuildKit's "[internal] load metadata for NAME" step of resolving a
// FROM image (prefixed with the platform in a multi-platform build); nil for an image ID.
func (r *run) startMetadata(ref string, p ocispecs.Platform) *progress.Step {
	norm, err := image.NormalizeName(ref)
	if err != nil || r.opts.Progress == nil || looksLikeImageID(ref) {
		return nil
	}
	prefix := "[internal] "
	if r.opts.MultiPlatform {
		prefix = "[" + plan.FormatPlatform(p) + " internal] "
	}
	return r.opts.Progress.Start(prefix + "load metadata for " + norm)
}

// looksLikeImageID reports an image ID (sha256:…, or 64 hex digits) rather than a name.
func looksLikeImageID(ref string) bool {
	if strings.HasPrefix(ref, "sha256:") {
		return true
	}
	_, err := hex.DecodeString(ref)
	return len(ref) == 64 && err == nil
}
