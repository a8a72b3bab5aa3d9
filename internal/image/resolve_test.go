package image

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// testRegistry serves an in-memory registry without auth for the test; it returns its
// host:port and the server (to close early).
func testRegistry(t *testing.T) (string, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), srv
}

func TestResolve(t *testing.T) {
	host, srv := testRegistry(t)

	single := simpleImage(t, "single")
	push(t, host+"/app:1", single)

	host2, other := simpleImage(t, "multi-host"), simpleImage(t, "multi-other")
	otherArch := "s390x"
	if runtime.GOARCH == otherArch {
		otherArch = "amd64"
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}},
		mutate.IndexAddendum{Add: host2, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	ref, err := name.ParseReference(host + "/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()

	s := newStore(t)
	r := &Resolver{Store: s, Keychain: authn.NewMultiKeychain()}
	tests := []struct {
		ref     string
		want    v1.Image
		wantErr bool
	}{
		{ref: host + "/app:1", want: single},
		{ref: host + "/multi:1", want: host2},
		{ref: host + "/multi@" + idxDigest.String(), want: host2},
		{ref: host + "/app@" + mustDigest(t, single).String(), want: single},
		{ref: host + "/app:missing", wantErr: true},
		{ref: "sha256:" + strings.Repeat("0", 64), wantErr: true},
		{ref: strings.Repeat("0", 64), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			img, err := r.Resolve(context.Background(), tt.ref)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Resolve succeeded, want error")
				}
				if looksLikeID(tt.ref) && !errors.Is(err, ErrNotFound) {
					t.Fatalf("ID lookup err = %v, want ErrNotFound without a pull", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mustDigest(t, img) != mustDigest(t, tt.want) {
				t.Fatalf("resolved %s, want %s", mustDigest(t, img), mustDigest(t, tt.want))
			}
			if err := validate.Image(img); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Everything pulled is now served from the store, with no registry.
	srv.Close()
	for _, tt := range tests {
		if tt.wantErr {
			continue
		}
		img, err := r.Resolve(context.Background(), tt.ref)
		if err != nil {
			t.Fatalf("offline Resolve(%s): %v", tt.ref, err)
		}
		if mustDigest(t, img) != mustDigest(t, tt.want) {
			t.Fatalf("offline Resolve(%s) = %s", tt.ref, mustDigest(t, img))
		}
	}
	if _, err := r.Resolve(context.Background(), host+"/app:2"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("unreachable registry: err = %v, want a pull error", err)
	}
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// TestResolveWithoutKeychainReadsNoDockerConfig: a Resolver without a Keychain pulls
// anonymously. It never reads the user's docker config behind hush's credential path: a
// config whose credsStore names a helper that does not exist would fail the pull if it did.
func TestResolveWithoutKeychainReadsNoDockerConfig(t *testing.T) {
	host, _ := testRegistry(t)
	img := simpleImage(t, "anonymous")
	push(t, host+"/app:1", img)

	cfg := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"credsStore":"hush-test-absent"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfg)
	r := &Resolver{Store: newStore(t)}
	got, err := r.Resolve(context.Background(), host+"/app:1")
	if err != nil {
		t.Fatalf("Resolve without a keychain: %v", err)
	}
	if mustDigest(t, got) != mustDigest(t, img) {
		t.Errorf("resolved %s, want %s", mustDigest(t, got), mustDigest(t, img))
	}
}

// TestResolvePull: with Pull (buildx's --pull) a name is fetched from its registry even
// when the store has it, so a newer image under the same tag wins; without Pull the
// store's copy is used; an image ID is still only looked up locally.
func TestResolvePull(t *testing.T) {
	host, _ := testRegistry(t)
	old, newer := simpleImage(t, "old"), simpleImage(t, "newer")
	s := newStore(t)
	if _, err := s.Put(old, host+"/app:1"); err != nil {
		t.Fatal(err)
	}
	push(t, host+"/app:1", newer)
	ctx := context.Background()
	got, err := (&Resolver{Store: s}).Resolve(ctx, host+"/app:1")
	if err != nil || mustDigest(t, got) != mustDigest(t, old) {
		t.Fatalf("without Pull: %v, %v; want the stored image", got, err)
	}
	r := &Resolver{Store: s, Pull: true}
	if got, err = r.Resolve(ctx, host+"/app:1"); err != nil || mustDigest(t, got) != mustDigest(t, newer) {
		t.Fatalf("with Pull: %v; want the registry's newer image", err)
	}
	id, _ := old.ConfigName()
	if _, err := r.Resolve(ctx, id.String()); err != nil {
		t.Errorf("with Pull, an ID is looked up locally: %v", err)
	}
	if _, err := r.Resolve(ctx, host+"/local-only:1"); err == nil {
		t.Error("with Pull, a name the registry lacks resolved")
	}
}
