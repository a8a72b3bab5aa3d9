package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestStoreLookups(t *testing.T) {
	s := newStore(t)
	img := simpleImage(t, "lookups")
	e, err := s.Put(img, "busybox", "ghcr.io/o/r:v1")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	id, dg := mustConfigName(t, img), mustDigest(t, img)
	if e.ID != id || e.Digest != dg {
		t.Fatalf("Put entry = %+v, want ID %s digest %s", e, id, dg)
	}
	if want := []string{"docker.io/library/busybox:latest", "ghcr.io/o/r:v1"}; !slices.Equal(e.Names, want) {
		t.Fatalf("Put names = %v, want %v", e.Names, want)
	}
	tests := []struct {
		ref     string
		wantErr error // nil: must find img
	}{
		{ref: "busybox"},
		{ref: "busybox:latest"},
		{ref: "docker.io/library/busybox:latest"},
		{ref: "ghcr.io/o/r:v1"},
		{ref: "busybox@" + dg.String()},
		{ref: "other@" + dg.String()}, // by manifest digest, like a content address
		{ref: id.String()},
		{ref: id.Hex},
		{ref: id.Hex[:12]},
		{ref: id.Hex[:4]},
		{ref: "sha256:" + id.Hex[:8]},
		{ref: "busybox:other", wantErr: ErrNotFound},
		{ref: "ghcr.io/o/r:v2", wantErr: ErrNotFound},
		{ref: "sha256:" + strings.Repeat("0", 64), wantErr: ErrNotFound},
		{ref: dg.Hex[:12], wantErr: ErrNotFound}, // manifest digest is not an ID
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, ge, err := s.Image(tt.ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Image(%q) err = %v, want %v", tt.ref, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Image(%q): %v", tt.ref, err)
			}
			if d := mustDigest(t, got); d != dg || ge.Digest != dg || ge.ID != id {
				t.Fatalf("Image(%q) digest %s entry %+v, want %s", tt.ref, d, ge, dg)
			}
			if err := validate.Image(got); err != nil {
				t.Fatalf("validate stored image: %v", err)
			}
		})
	}
	for _, bad := range []string{"", "sha256:zz", "sha256:ab", "Not A Name"} {
		if _, _, err := s.Image(bad); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Image(%q) err = %v, want a parse error", bad, err)
		}
	}
}

func TestStoreTagMoveAndRemove(t *testing.T) {
	s := newStore(t)
	a, b := simpleImage(t, "a"), simpleImage(t, "b")
	if _, err := s.Put(a, "app:1", "app:latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(b, "app:latest"); err != nil {
		t.Fatal(err)
	}
	names := func() map[v1.Hash][]string {
		l, err := s.List()
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		m := map[v1.Hash][]string{}
		for _, e := range l {
			m[e.Digest] = e.Names
		}
		return m
	}
	da, db := mustDigest(t, a), mustDigest(t, b)
	steps := []struct {
		do        func() ([]string, error)
		wantOut   []string
		wantErr   error
		wantNames map[v1.Hash][]string // absent digest: not listed
	}{
		{ // the move itself happened in Put above
			do:        func() ([]string, error) { return nil, nil },
			wantNames: map[v1.Hash][]string{da: {"docker.io/library/app:1"}, db: {"docker.io/library/app:latest"}},
		},
		{ // moving a's last name leaves it dangling (<none>)
			do:        func() ([]string, error) { _, err := s.Put(b, "app:1"); return nil, err },
			wantNames: map[v1.Hash][]string{da: nil, db: {"docker.io/library/app:latest", "docker.io/library/app:1"}},
		},
		{ // untag one of two names
			do:        func() ([]string, error) { return s.Remove("app:1") },
			wantOut:   []string{"Untagged: app:1"},
			wantNames: map[v1.Hash][]string{da: nil, db: {"docker.io/library/app:latest"}},
		},
		{ // untag the last name deletes the image
			do:        func() ([]string, error) { return s.Remove("app") },
			wantOut:   []string{"Untagged: app:latest", "Deleted: " + mustConfigName(t, b).String()},
			wantNames: map[v1.Hash][]string{da: nil},
		},
		{ // a dangling image goes by ID prefix
			do:        func() ([]string, error) { return s.Remove(mustConfigName(t, a).Hex[:6]) },
			wantOut:   []string{"Deleted: " + mustConfigName(t, a).String()},
			wantNames: map[v1.Hash][]string{},
		},
		{
			do:        func() ([]string, error) { return s.Remove("app") },
			wantErr:   ErrNotFound,
			wantNames: map[v1.Hash][]string{},
		},
	}
	for i, st := range steps {
		out, err := st.do()
		if st.wantErr != nil {
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("step %d: err = %v, want %v", i, err, st.wantErr)
			}
		} else if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if st.wantOut != nil && !slices.Equal(out, st.wantOut) {
			t.Fatalf("step %d: output %q, want %q", i, out, st.wantOut)
		}
		got := names()
		if len(got) != len(st.wantNames) {
			t.Fatalf("step %d: listed %v, want %v", i, got, st.wantNames)
		}
		for d, want := range st.wantNames {
			n, ok := got[d]
			if !ok || !slices.Equal(n, want) {
				t.Fatalf("step %d: names of %s = %v (listed %v), want %v", i, d, n, ok, want)
			}
		}
	}
	// Every blob went with the images.
	if left := dirNames(t, filepath.Join(s.Dir(), "blobs", "sha256")); len(left) != 0 {
		t.Fatalf("blobs left after removing everything: %v", left)
	}
}

func TestRemoveKeepsSharedBlobs(t *testing.T) {
	s := newStore(t)
	shared := layerOf(t, "application/vnd.oci.image.layer.v1.tar+gzip", entry{name: "shared", body: "x"})
	a, b := testImage(t, "a", shared), testImage(t, "b", shared)
	if _, err := s.Put(a, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(b, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove("a"); err != nil {
		t.Fatal(err)
	}
	img, _, err := s.Image("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("b lost a shared blob: %v", err)
	}
	if _, err := os.Stat(s.blobPath(mustDigest(t, a))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("manifest of a still present: %v", err)
	}
}

func TestRemoveByIDAcrossRepos(t *testing.T) {
	tests := []struct {
		names   []string
		force   bool
		wantErr error
		wantOut int
	}{
		{names: []string{"a:1", "b:1"}, wantErr: ErrConflict},
		{names: []string{"a:1", "b:1"}, force: true, wantOut: 3},
		{names: []string{"a:1", "a:2"}, wantOut: 3},
		{names: []string{"a:1"}, wantOut: 2},
		{names: nil, wantOut: 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/force=%v", tt.names, tt.force), func(t *testing.T) {
			s := newStore(t)
			img := simpleImage(t, "x")
			if _, err := s.Put(img, tt.names...); err != nil {
				t.Fatal(err)
			}
			rm := s.Remove
			if tt.force {
				rm = s.ForceRemove
			}
			out, err := rm(mustConfigName(t, img).String())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if l, _ := s.List(); len(l) != 1 || len(l[0].Names) != len(tt.names) {
					t.Fatalf("failed remove changed the store: %+v", l)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != tt.wantOut || !strings.HasPrefix(out[len(out)-1], "Deleted: sha256:") {
				t.Fatalf("output %q, want %d lines ending in Deleted", out, tt.wantOut)
			}
			if l, _ := s.List(); len(l) != 0 {
				t.Fatalf("image still listed: %+v", l)
			}
		})
	}
}

func TestAmbiguousIDPrefix(t *testing.T) {
	s := newStore(t)
	seen := map[string]v1.Image{}
	var pair []v1.Image
	for i := 0; i < 5000 && pair == nil; i++ {
		cfg := &v1.ConfigFile{Author: fmt.Sprint("author-", i), OS: "linux", Architecture: "amd64"}
		img, err := mutate.ConfigFile(empty.Image, cfg)
		if err != nil {
			t.Fatal(err)
		}
		p := mustConfigName(t, img).Hex[:4]
		if other, ok := seen[p]; ok {
			pair = []v1.Image{other, img}
		}
		seen[p] = img
	}
	if pair == nil {
		t.Fatal("no two configs share a 4-hex prefix in 5000 tries")
	}
	for _, img := range pair {
		if _, err := s.Put(img); err != nil {
			t.Fatal(err)
		}
	}
	prefix := mustConfigName(t, pair[0]).Hex[:4]
	if _, _, err := s.Image(prefix); !errors.Is(err, ErrConflict) {
		t.Fatalf("Image(%s) err = %v, want ErrConflict", prefix, err)
	}
	if _, err := s.Remove(prefix); !errors.Is(err, ErrConflict) {
		t.Fatalf("Remove(%s) err = %v, want ErrConflict", prefix, err)
	}
	longer := mustConfigName(t, pair[1]).Hex[:20]
	if _, e, err := s.Image(longer); err != nil || e.ID != mustConfigName(t, pair[1]) {
		t.Fatalf("Image(%s) = %+v, %v", longer, e, err)
	}
}

func TestConcurrentPut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	const n = 16
	imgs := make([]v1.Image, n)
	for i := range imgs {
		imgs[i] = simpleImage(t, fmt.Sprint("img-", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A Store per goroutine stands in for separate hush processes.
			s, err := OpenStore(dir)
			if err != nil {
				errs <- err
				return
			}
			if _, err := s.Put(imgs[i], fmt.Sprint("img:", i), "shared"); err != nil {
				errs <- err
			}
			if _, err := s.Put(imgs[(i+1)%n], fmt.Sprint("img:", (i+1)%n)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Put: %v", err)
	}
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Fatalf("listed %d images, want %d", len(list), n)
	}
	shared := 0
	for _, e := range list {
		for _, name := range e.Names {
			if name == "docker.io/library/shared:latest" {
				shared++
			}
		}
	}
	if shared != 1 {
		t.Fatalf("shared tag on %d images, want 1", shared)
	}
	for i := range n {
		_, e, err := s.Image(fmt.Sprint("img:", i))
		if err != nil || e.Digest != mustDigest(t, imgs[i]) {
			t.Fatalf("img:%d = %+v, %v", i, e, err)
		}
	}
	// The store is a plain OCI layout that go-containerregistry can read.
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateIndexImages(ii); err != nil {
		t.Fatal(err)
	}
	if left := dirNames(t, filepath.Join(dir, tmpDirName)); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func validateIndexImages(ii v1.ImageIndex) error {
	im, err := ii.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		img, err := ii.Image(d.Digest)
		if err != nil {
			return err
		}
		if err := validate.Image(img); err != nil {
			return fmt.Errorf("image %s: %w", d.Digest, err)
		}
	}
	return nil
}

func TestPutDigestNameMustMatch(t *testing.T) {
	s := newStore(t)
	img := simpleImage(t, "d")
	other := mustDigest(t, simpleImage(t, "e"))
	if _, err := s.Put(img, "x@"+other.String()); err == nil {
		t.Fatal("Put with a foreign digest name succeeded")
	}
	if _, err := s.Put(img, "x@"+mustDigest(t, img).String()); err != nil {
		t.Fatalf("Put with its own digest name: %v", err)
	}
	if _, _, err := s.Image("x@" + mustDigest(t, img).String()); err != nil {
		t.Fatal(err)
	}
}
