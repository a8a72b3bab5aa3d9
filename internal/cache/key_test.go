package cache

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestKeyFieldsAreUnambiguous(t *testing.T) {
	a := NewKey("run", "p").Add("x", "ab").Add("y", "c").Sum()
	b := NewKey("run", "p").Add("x", "a").Add("y", "bc").Sum()
	c := NewKey("run", "p").AddList("l", []string{"a", "b"}).Sum()
	d := NewKey("run", "p").AddList("l", []string{"ab"}).Sum()
	e := NewKey("copy", "p").Add("x", "ab").Add("y", "c").Sum()
	f := NewKey("run", "q").Add("x", "ab").Add("y", "c").Sum()
	seen := map[string]string{}
	for name, k := range map[string]string{"a": a, "b": b, "c": c, "d": d, "e": e, "f": f} {
		if other, dup := seen[k]; dup {
			t.Errorf("keys %s and %s collide", name, other)
		}
		seen[k] = name
	}
	if a != NewKey("run", "p").Add("x", "ab").Add("y", "c").Sum() {
		t.Error("same fields, different key")
	}
	if len(a) != len("sha256:")+64 {
		t.Errorf("key %q is not sha256:<hex>", a)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := NewKey("run", "scratch").Sum()
	if _, ok := s.Get(k); ok {
		t.Fatal("empty store returned a record")
	}
	rec := &Record{Layer: &Layer{Digest: "sha256:aa", DiffID: "sha256:bb", Size: 3, MediaType: "m"}, Created: time.Unix(1, 0).UTC()}
	if err := s.Put(k, rec); err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get(k)
	if !ok || *got.Layer != *rec.Layer || !got.Created.Equal(rec.Created) {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	if err := s.Remove(k); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(k); ok {
		t.Error("record still there after Remove")
	}
}

func TestListAndTouch(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := NewKey("run", "a").Sum()
	if err := s.Put(k, &Record{Created: time.Unix(5, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(s.path(k), old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), ".tmp-1"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Key != k || !list[0].Record.Created.Equal(time.Unix(5, 0)) {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if !list[0].LastUsed.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("last used %v, want two days ago", list[0].LastUsed)
	}
	if err := s.Touch(k); err != nil {
		t.Fatal(err)
	}
	if list, _ = s.List(); time.Since(list[0].LastUsed) > time.Minute {
		t.Errorf("last used %v after Touch", list[0].LastUsed)
	}
	if err := s.Touch(NewKey("run", "gone").Sum()); err != nil {
		t.Errorf("touching a missing record: %v", err)
	}
}
