package image

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// archImage is simpleImage with its config's architecture set.
func archImage(t *testing.T, author, arch string) v1.Image {
	t.Helper()
	img := simpleImage(t, author)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = arch
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestResolvePlatforms: a FROM for another platform than the stored name's pulls that
// platform's image and keeps it beside the named one, unnamed (every other command still
// sees the named image); it is then found offline; a platform neither has is an error
// saying the store has the name for another platform only.
func TestResolvePlatforms(t *testing.T) {
	host, srv := testRegistry(t)
	other := "s390x"
	if runtime.GOARCH == other {
		other = "amd64"
	}
	native, foreign := archImage(t, "native", runtime.GOARCH), archImage(t, "foreign", other)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: native, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
		mutate.IndexAddendum{Add: foreign, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
	)
	ref, _ := name.ParseReference(host + "/base:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	r := &Resolver{Store: s, Keychain: authn.NewMultiKeychain()}
	ctx := context.Background()
	otherP := v1.Platform{OS: "linux", Architecture: other}
	for _, step := range []struct {
		p    v1.Platform
		want v1.Image
	}{{hostPlatform(), native}, {otherP, foreign}, {hostPlatform(), native}} {
		img, err := r.ResolvePlatform(ctx, host+"/base:1", step.p)
		if err != nil {
			t.Fatal(err)
		}
		if mustDigest(t, img) != mustDigest(t, step.want) {
			t.Fatalf("%s: resolved %s", step.p.Architecture, mustDigest(t, img))
		}
	}
	if img, _, err := s.Image(host + "/base:1"); err != nil || mustDigest(t, img) != mustDigest(t, native) {
		t.Fatalf("the name moved to the other platform's image: %v", err)
	}
	es, _ := s.List()
	if len(es) != 2 || len(es[0].Names)+len(es[1].Names) != 1 {
		t.Fatalf("store lists %+v, want the named image and an unnamed one", es)
	}

	srv.Close()
	img, err := r.ResolvePlatform(ctx, host+"/base:1", otherP)
	if err != nil || mustDigest(t, img) != mustDigest(t, foreign) {
		t.Fatalf("offline %s: %v", other, err)
	}
	_, err = r.ResolvePlatform(ctx, host+"/base:1", v1.Platform{OS: "linux", Architecture: "riscv64"})
	if err == nil || !strings.Contains(err.Error(), "the store has it for another platform only") {
		t.Fatalf("riscv64 offline: %v", err)
	}
	if _, _, err := s.ImageForPlatform(host+"/base:1", v1.Platform{OS: "linux", Architecture: "riscv64"}, nil); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrOtherPlatform) {
		t.Fatalf("ImageForPlatform riscv64: %v", err)
	}
}

func TestPlatformMatches(t *testing.T) {
	p := func(s string) v1.Platform {
		parts := strings.Split(s, "/")
		out := v1.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) > 2 {
			out.Variant = parts[2]
		}
		return out
	}
	for _, tt := range []struct {
		want, got string
		ok        bool
	}{
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm/v7", "linux/arm", true},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/amd64", "linux/arm64", false},
		{"linux/amd64", "linux/", true},
	} {
		if got := PlatformMatches(p(tt.want), p(tt.got)); got != tt.ok {
			t.Errorf("PlatformMatches(%s, %s) = %v", tt.want, tt.got, got)
		}
	}
}
