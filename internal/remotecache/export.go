package remotecache

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/hush-build/hush/internal/registry"
)

// Access is how a cache reaches registries: the build's own credentials (the push path's
// keychain: docker config, --registry-auth, generators) and transport.
type Access struct {
	Keychain  authn.Keychain
	Transport http.RoundTripper
	Insecure  bool
}

func (a Access) options(insecure bool) []registry.Option {
	var opts []registry.Option
	if a.Transport != nil {
		opts = append(opts, registry.WithTransport(a.Transport))
	}
	if a.Insecure || insecure {
		opts = append(opts, registry.WithInsecure())
	}
	return opts
}

// Summary says what an export wrote.
type Summary struct {
	Records, Layers int
	Manifest        v1.Hash
}

// Write writes entries as a cache manifest to a registry or a local layout. An inline
// export is Inline's, on the image itself.
func Write(ctx context.Context, e Export, entries []Entry, a Access) (Summary, error) {
	var mounts []name.Reference
	if e.Type == TypeRegistry {
		mounts = mountSources(e, a)
	}
	art, cfg, err := newArtifact(entries, e.OCIMediaTypes, mounts)
	if err != nil {
		return Summary{}, err
	}
	img, err := art.image()
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Records: len(cfg.Records), Layers: len(cfg.Layers), Manifest: sha256Hash(art.rawManifest)}
	switch e.Type {
	case TypeRegistry:
		err = registry.Push(ctx, img, e.Ref, a.Keychain, a.options(e.Insecure)...)
	case TypeLocal:
		err = writeLocal(e.Dest, e.Tag, img)
	default:
		err = fmt.Errorf("internal error: export type %q", e.Type)
	}
	if err != nil {
		return Summary{}, fmt.Errorf("exporting cache to %s: %w", e, err)
	}
	return sum, nil
}

// mountSources are the MountFrom references on the export's registry: the repositories a
// layer may be mounted from.
func mountSources(e Export, a Access) []name.Reference {
	var opts []name.Option
	if a.Insecure || e.Insecure {
		opts = append(opts, name.Insecure)
	}
	target, err := name.ParseReference(e.Ref, opts...)
	if err != nil {
		return nil
	}
	var out []name.Reference
	for _, m := range e.MountFrom {
		r, err := name.ParseReference(m, opts...)
		if err == nil && r.Context().RegistryStr() == target.Context().RegistryStr() &&
			r.Context().RepositoryStr() != target.Context().RepositoryStr() {
			out = append(out, r)
		}
	}
	return out
}

// Inline returns img with entries as its inline cache: the cache config in the manifest
// annotation InlineAnnotation (the config, and so the image ID, are unchanged). Entries
// whose layer is not one of img's are left out: an inline cache points at the image's own
// layers only.
func Inline(img v1.Image, entries []Entry) (v1.Image, int, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, 0, err
	}
	in := map[v1.Hash]bool{}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, 0, err
		}
		in[d] = true
	}
	var keep []Entry
	for _, e := range entries {
		if e.Layer != nil {
			d, err := e.Layer.Digest()
			if err != nil || !in[d] {
				continue
			}
		}
		keep = append(keep, e)
	}
	cfg, err := inlineConfig(img, keep)
	if err != nil {
		return nil, 0, err
	}
	out, ok := mutate.Annotations(img, map[string]string{InlineAnnotation: cfg}).(v1.Image)
	if !ok {
		return nil, 0, fmt.Errorf("internal error: annotating the image")
	}
	return out, len(keep), nil
}
