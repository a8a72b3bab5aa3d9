package builder

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRebuildIsFullyCached: building the same inputs again runs nothing and gives the same
// image ID, across stages, COPY --from, COPY from the context and RUN.
func TestRebuildIsFullyCached(t *testing.T) {
	const df = `FROM scratch AS a
RUN write a.txt a
FROM scratch
COPY --chown={{owner}} f.txt /
COPY --from=a /a.txt /
RUN write b.txt b
`
	h := newHarness(t)
	h.file("f.txt", "content")
	first := h.mustBuild(df, Request{})
	if len(first.ran) != 2 {
		t.Fatalf("first build ran %q, want both RUN steps", first.ran)
	}
	second := h.mustBuild(df, Request{})
	if len(second.ran) != 0 {
		t.Errorf("rebuild ran %q, want nothing", second.ran)
	}
	if first.pub.ID != second.pub.ID {
		t.Errorf("image ID changed: %s, then %s", first.pub.ID, second.pub.ID)
	}
	if n := strings.Count(second.log, "CACHED"); n != 4 {
		t.Errorf("rebuild shows %d CACHED steps, want 4:\n%s", n, second.log)
	}
}

// TestCacheMissesFromTheChangedStep: a change to a step's inputs — its command, a build arg
// or ENV it sees, the files it copies — or --no-cache re-runs that step and every step
// after it, and no step before it.
func TestCacheMissesFromTheChangedStep(t *testing.T) {
	const df = `FROM scratch
RUN write one 1
ARG V=1
RUN write two 2
ENV E=1
RUN write three 3
COPY --chown={{owner}} f.txt /
RUN write four 4
`
	tests := []struct {
		name string
		df   func(string) string
		file string // f.txt's content in the second build
		req  Request
		want []string
	}{
		{name: "nothing changed", want: nil},
		{name: "RUN command", df: replace("write three 3", "write three 33"),
			want: []string{"write three 33", "write four 4"}},
		{name: "build arg", req: Request{BuildArgs: map[string]string{"V": "2"}},
			want: []string{"write two 2", "write three 3", "write four 4"}},
		{name: "ENV", df: replace("ENV E=1", "ENV E=2"), want: []string{"write three 3", "write four 4"}},
		{name: "COPY content", file: "v2", want: []string{"write four 4"}},
		{name: "no-cache", req: Request{NoCache: true},
			want: []string{"write one 1", "write two 2", "write three 3", "write four 4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.file("f.txt", "v1")
			h.mustBuild(df, Request{})
			second := df
			if tt.df != nil {
				second = tt.df(df)
			}
			want := "v1"
			if tt.file != "" {
				h.file("f.txt", tt.file)
				want = tt.file
			}
			o := h.mustBuild(second, tt.req)
			if !slices.Equal(o.ran, tt.want) {
				t.Errorf("ran %q, want %q", o.ran, tt.want)
			}
			if got, _ := fileInImage(t, o.pub.Image, "f.txt"); got != want {
				t.Errorf("/f.txt in the image = %q, want %q", got, want)
			}
		})
	}
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

// TestUnauditedLayerIsNotReused: a layer another build journaled as committed with secret
// values and not audited yet is not reused from the cache (that build may leak; this one may
// not even have the values to audit for); the step runs again.
func TestUnauditedLayerIsNotReused(t *testing.T) {
	const df = "FROM scratch\nRUN write one 1\n"
	for _, journaled := range []bool{false, true} {
		name := "audited"
		if journaled {
			name = "journaled as unaudited"
		}
		t.Run(name, func(t *testing.T) {
			root, dir := t.TempDir(), t.TempDir()
			// The other build is still running: its lease is live, so opening the state dir
			// again does not sweep its entry.
			other := &harness{t: t, rt: newFakeRuntime(), dir: dir}
			other.b = openBuilder(t, root, other.rt)
			o := other.mustBuild(df, Request{})
			layers, err := o.pub.Image.Layers()
			if err != nil || len(layers) != 1 {
				t.Fatalf("layers %v, %v", layers, err)
			}
			digest, _ := layers[0].Digest()
			diffID, _ := layers[0].DiffID()
			if journaled {
				if err := other.b.unaudited.add(digest.String(), diffID.String(), other.b.Lease.ID()); err != nil {
					t.Fatal(err)
				}
			}
			h := &harness{t: t, rt: newFakeRuntime(), dir: dir}
			h.b = openBuilder(t, root, h.rt)
			var want []string
			if journaled {
				want = []string{"write one 1"}
			}
			if got := h.mustBuild(df, Request{}).ran; !slices.Equal(got, want) {
				t.Errorf("ran %q, want %q", got, want)
			}
		})
	}
}

// TestUnauditedEntriesArePerBuild: two builds that had secret values commit the same layer;
// one audits it and clears its journal entry, the other is killed before its audit. The
// layer stays journaled (no later build reuses it), and the next sweep purges it once the
// killed build's lease is dead — not while it lives.
func TestUnauditedEntriesArePerBuild(t *testing.T) {
	h := newHarness(t)
	o := h.mustBuild("FROM scratch\nRUN write one 1\n", Request{})
	layers, err := o.pub.Image.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %v, %v", layers, err)
	}
	digest, _ := layers[0].Digest()
	diffID, _ := layers[0].DiffID()
	if n := recordsOf(t, h.b, digest.String()); n != 1 {
		t.Fatalf("%d cache records of the layer, want 1", n)
	}
	audited, err := h.b.newSession()
	if err != nil {
		t.Fatal(err)
	}
	killed, err := h.b.newSession()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*session{audited, killed} {
		if err := h.b.unaudited.add(digest.String(), diffID.String(), s.id()); err != nil {
			t.Fatal(err)
		}
	}
	h.b.unaudited.clear(digest.String(), audited.id())
	if !h.b.unaudited.has(digest.String()) {
		t.Fatal("one build's audit cleared the other build's entry")
	}
	if err := audited.close(); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(h.b.Root()); err != nil {
		t.Fatal(err)
	}
	if n := recordsOf(t, h.b, digest.String()); n != 1 {
		t.Fatalf("a sweep purged the layer of a build that still runs (%d records left)", n)
	}
	killed.lease.Release() // what kill -9 leaves: the entry, a dead lease
	killed.scratch.Release()
	if err := Sweep(h.b.Root()); err != nil {
		t.Fatal(err)
	}
	if n := recordsOf(t, h.b, digest.String()); n != 0 {
		t.Errorf("the killed build's unaudited layer still has %d cache record(s)", n)
	}
	if _, ok := h.b.Images.Blob(digest); ok {
		t.Error("the killed build's unaudited layer blob is still in the store")
	}
	if h.b.unaudited.has(digest.String()) {
		t.Error("the journal still lists the purged layer")
	}
}

// recordsOf counts the cache records whose layer is digest.
func recordsOf(t *testing.T, b *Builder, digest string) int {
	t.Helper()
	ents, err := os.ReadDir(b.Cache.Dir())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		key, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if rec, ok := b.Cache.Get("sha256:" + key); ok && rec.Layer != nil && rec.Layer.Digest == digest {
			n++
		}
	}
	return n
}

// TestCacheHitRecordsLastUse: reusing a step from the cache records the use, so the
// garbage collector, least recently used first, keeps what builds still reuse.
func TestCacheHitRecordsLastUse(t *testing.T) {
	h := newHarness(t)
	const df = "FROM scratch\nRUN write one 1\n"
	h.mustBuild(df, Request{})
	list, err := h.b.Cache.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("cache records %+v, %v", list, err)
	}
	old := time.Now().Add(-30 * 24 * time.Hour)
	p := filepath.Join(h.b.Cache.Dir(), strings.TrimPrefix(list[0].Key, "sha256:")+".json")
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if ran := h.mustBuild(df, Request{}).ran; len(ran) != 0 {
		t.Fatalf("the rebuild ran %q", ran)
	}
	if list, _ = h.b.Cache.List(); time.Since(list[0].LastUsed) > time.Minute {
		t.Errorf("a record reused just now was last used %v", list[0].LastUsed)
	}
}
