package image

import (
	"github.com/hush-build/hush/internal/lease"

	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Resolver finds base images for FROM: the local store first, then a
// registry (pulled for linux/GOARCH unless Platform says otherwise). A
// pulled image is stored under its normalized name and served from the
// store, so its layers are read from local files.
type Resolver struct {
	Store *Store
	// Keychain gives registry credentials (hush's, from internal/registry); nil means
	// anonymous: the resolver never reads a docker config of its own.
	Keychain authn.Keychain
	Insecure bool         // allow plain-HTTP registries
	Platform *v1.Platform // nil means linux/runtime.GOARCH
	// Transport, when set, carries registry requests (custom CA roots).
	Transport http.RoundTripper
	// Lease, when set, holds every blob of a resolved image for the build using it.
	Lease *lease.Lease
	// Pull fetches every name from its registry even when the store has it (buildx's
	// --pull); image IDs are still only looked up locally.
	Pull bool
}

// Resolve returns the image ref names, pulling it if the store lacks it (or always, for
// a name, with Pull). Image IDs are only looked up locally.
func (r *Resolver) Resolve(ctx context.Context, ref string) (v1.Image, error) {
	platform := hostPlatform()
	if r.Platform != nil {
		platform = *r.Platform
	}
	return r.ResolvePlatform(ctx, ref, platform)
}

// ResolvePlatform is Resolve for a platform: a stored name serves it only when its image
// is for that platform (or one pulled for it beside it); else the platform's image is
// pulled and kept beside the other (see ImageForPlatform).
func (r *Resolver) ResolvePlatform(ctx context.Context, ref string, platform v1.Platform) (v1.Image, error) {
	if r.Store == nil {
		return nil, errors.New("resolving image: no store")
	}
	var stored error
	if !r.Pull || looksLikeID(ref) {
		img, _, err := r.Store.ImageForPlatform(ref, platform, r.Lease)
		if err == nil {
			return img, nil
		}
		if !errors.Is(err, ErrNotFound) || looksLikeID(ref) {
			return nil, fmt.Errorf("resolving image %q: %w", ref, err)
		}
		stored = err
	}
	norm, err := NormalizeName(ref)
	if err != nil {
		return nil, fmt.Errorf("resolving image %q: %w", ref, err)
	}
	if err := r.pull(ctx, norm, platform); err != nil {
		if errors.Is(stored, ErrOtherPlatform) {
			return nil, fmt.Errorf("resolving image %q for %s: the store has it for another platform only, and %w", ref, FormatPlatform(platform), err)
		}
		return nil, fmt.Errorf("resolving image %q: %w", ref, err)
	}
	img, _, err := r.Store.ImageForPlatform(norm, platform, r.Lease)
	if err != nil {
		return nil, fmt.Errorf("resolving image %q: %w", ref, err)
	}
	return img, nil
}

func (r *Resolver) pull(ctx context.Context, norm string, platform v1.Platform) error {
	var opts []name.Option
	if r.Insecure {
		opts = append(opts, name.Insecure)
	}
	nref, err := name.ParseReference(norm, opts...)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", norm, err)
	}
	kc := r.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain() // resolves every registry to authn.Anonymous
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(platform)}
	if r.Transport != nil {
		ropts = append(ropts, remote.WithTransport(r.Transport))
	}
	img, err := remote.Image(nref, ropts...)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", norm, err)
	}
	return r.store(img, norm, platform)
}

// store keeps a pulled image under its name, or beside the image of another platform the
// name is on (a platform alternate).
func (r *Resolver) store(img v1.Image, norm string, platform v1.Platform) error {
	if cur, _, err := r.Store.Image(norm); err == nil {
		if got, err := PlatformOf(cur); err == nil && !PlatformMatches(platform, got) {
			if err := r.Store.putAlternate(img, norm, platform); err != nil {
				return fmt.Errorf("storing %s: %w", norm, err)
			}
			return nil
		}
	}
	// A digest name may be an index digest while img is the platform image
	// in it; it still names img, like docker's RepoDigests.
	if _, err := r.Store.put(img, []string{norm}, false); err != nil {
		return fmt.Errorf("storing %s: %w", norm, err)
	}
	return nil
}

// looksLikeID reports whether ref is an image ID rather than a name to pull.
func looksLikeID(ref string) bool {
	if strings.HasPrefix(ref, "sha256:") {
		return true
	}
	return len(ref) == 64 && isHex(ref)
}
