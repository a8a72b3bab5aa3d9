package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/buildcontext"
	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/gitsource"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/plan"
)

// ContextKind says what a named build context (--build-context NAME=VALUE) is.
type ContextKind int

const (
	// ContextDir is a local directory (with its own .dockerignore).
	ContextDir ContextKind = iota
	// ContextImage is docker-image://REF: an image, resolved as FROM resolves one.
	ContextImage
	// ContextOCILayout is oci-layout://DIR[:TAG|@DIGEST]: an image in an OCI layout.
	ContextOCILayout
	// ContextGit is a Git URL, fetched like a Git build context.
	ContextGit
)

// NamedContext is one --build-context value.
type NamedContext struct {
	Kind ContextKind
	// Ref is the directory, image reference, layout directory or Git URL.
	Ref string
	// Tag and Digest pick an OCI layout's image (neither: its only one, or "latest").
	Tag, Digest string
}

// namedContexts resolves a build's named contexts, each once.
type namedContexts struct {
	mu    sync.Mutex
	dirs  map[string]*buildcontext.Context
	stage map[string]*stageResult
}

// ContextName is the name a --build-context, a stage or a FROM/--from reference is known
// by: its familiar form without ":latest", as BuildKit matches them.
func ContextName(name string) string {
	n, err := image.NormalizeName(name)
	if err != nil {
		return strings.ToLower(name)
	}
	return strings.TrimSuffix(image.FamiliarName(n), ":latest")
}

// namedContext returns the named context a reference stands for, if any.
func (r *run) namedContext(name string) (NamedContext, bool) {
	if len(r.opts.Contexts) == 0 || strings.EqualFold(name, "scratch") || strings.EqualFold(name, "context") {
		return NamedContext{}, false
	}
	nc, ok := r.opts.Contexts[ContextName(name)]
	return nc, ok
}

// contextStage is the state a named image context (docker-image://, oci-layout://)
// gives a stage that starts FROM it or a COPY --from that names it.
func (r *run) contextStage(ctx context.Context, name string, nc NamedContext, p ocispecs.Platform) (*stageResult, error) {
	switch nc.Kind {
	case ContextImage:
		res, err := r.image(ctx, nc.Ref, p)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		return res, nil
	case ContextOCILayout:
		return r.layoutStage(name, nc, p)
	}
	return nil, fmt.Errorf("build context %s: a local or Git build context cannot be a stage's base yet (FROM %s); COPY --from=%s and RUN --mount=from=%s work", name, name, name, name)
}

// layoutStage loads a named context's OCI layout image into the store, once.
func (r *run) layoutStage(name string, nc NamedContext, p ocispecs.Platform) (*stageResult, error) {
	r.ctxs.mu.Lock()
	defer r.ctxs.mu.Unlock()
	key := name + " " + plan.FormatPlatform(p)
	if res, ok := r.ctxs.stage[key]; ok {
		return res, nil
	}
	img, err := image.FromLayout(nc.Ref, nc.Tag, nc.Digest, v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", name, err)
	}
	e, err := r.b.Images.Put(img)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", name, err)
	}
	res, err := r.image(context.Background(), e.ID.String(), p)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", name, err)
	}
	if r.ctxs.stage == nil {
		r.ctxs.stage = map[string]*stageResult{}
	}
	r.ctxs.stage[key] = res
	return res, nil
}

// contextDir opens a named local or Git context as a build context of its own (its own
// .dockerignore); a Git context is fetched into the build's scratch dir once.
func (r *run) contextDir(ctx context.Context, name string, nc NamedContext) (*buildcontext.Context, error) {
	r.ctxs.mu.Lock()
	defer r.ctxs.mu.Unlock()
	if c, ok := r.ctxs.dirs[name]; ok {
		return c, nil
	}
	dir := nc.Ref
	if nc.Kind == ContextGit {
		ref, _, err := gitsource.Parse(nc.Ref)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
		if dir, _, err = r.fetchGitSource(ctx, ref); err != nil {
			return nil, fmt.Errorf("build context %s: %w", name, err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", name, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s: %s is not a directory", name, dir)
	}
	c, err := buildcontext.Open(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", name, err)
	}
	if r.ctxs.dirs == nil {
		r.ctxs.dirs = map[string]*buildcontext.Context{}
	}
	r.ctxs.dirs[name] = c
	return c, nil
}

// dirContext is the local or Git context a --from names, or nil.
func (r *run) dirContext(ctx context.Context, st *plan.Stage, from string) (*buildcontext.Context, string, error) {
	if from == "" {
		return nil, "", nil
	}
	if s, _ := r.plan.ResolveFrom(st, from); s != nil {
		return nil, "", nil
	}
	nc, ok := r.namedContext(from)
	if !ok || (nc.Kind != ContextDir && nc.Kind != ContextGit) {
		return nil, "", nil
	}
	name := ContextName(from)
	c, err := r.contextDir(ctx, name, nc)
	return c, "context:" + name, err
}

// sourceOf is the files of a build context, for COPY and the content digests.
func (r *run) sourceOf(c *buildcontext.Context) fscopy.Source {
	src := fscopy.Source{Root: c.Dir(), Exclude: c.Excluded, MayIncludeUnder: c.MayIncludeUnder}
	if r.b.Sums != nil && c == r.opts.Context {
		src.Sums = r.b.Sums
	}
	return src
}

// checkContexts fails before any step runs on a local build context that is not a
// directory, as buildx does when it loads its inputs.
func checkContexts(cs map[string]NamedContext) error {
	for name, nc := range cs {
		if nc.Kind != ContextDir {
			continue
		}
		fi, err := os.Stat(nc.Ref)
		if err != nil {
			return fmt.Errorf("build context %s: %w", name, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("build context %s: %s is not a directory", name, nc.Ref)
		}
	}
	return nil
}
