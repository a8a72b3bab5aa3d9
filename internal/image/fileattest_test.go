package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

type fileStatement struct {
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate map[string]any `json:"predicate"`
}

// checkFileStatement: the statement names every regular file (hard links too, with their
// target's digest) and nothing else, sorted, with its predicate.
func checkFileStatement(t *testing.T, raw []byte) {
	t.Helper()
	var st fileStatement
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	want := []struct{ name, digest string }{{"a/file", sha([]byte("one")).Hex}, {"b", sha([]byte("two")).Hex}, {"hard", sha([]byte("one")).Hex}}
	if len(st.Subject) != len(want) || st.PredicateType != "https://slsa.dev/provenance/v1" || st.Predicate["k"] != "v" {
		t.Fatalf("statement %s", raw)
	}
	for i, w := range want {
		if st.Subject[i].Name != w.name || st.Subject[i].Digest["sha256"] != w.digest {
			t.Errorf("subject %d: %+v, want %s %s", i, st.Subject[i], w.name, w.digest)
		}
	}
}

// TestFileAttestations: local and tar outputs carry provenance.json as BuildKit's local
// exporter writes it — a statement about the output's regular files.
func TestFileAttestations(t *testing.T) {
	img := testImage(t, "attested", layerOf(t, types.OCILayer,
		entry{name: "a/", typ: tar.TypeDir}, entry{name: "a/file", body: "one"}, entry{name: "b", body: "two"},
		entry{name: "hard", typ: tar.TypeLink, linkname: "a/file"}, entry{name: "sym", typ: tar.TypeSymlink, linkname: "b"}))
	att := Attestation{PredicateType: "https://slsa.dev/provenance/v1", Predicate: []byte(`{"k":"v"}`), Path: "provenance.json"}

	var buf bytes.Buffer
	if err := StreamRootfsTar(&buf, img, att); err != nil {
		t.Fatal(err)
	}
	got := readTar(t, &buf)
	m, ok := got["provenance.json"]
	if !ok {
		t.Fatalf("no provenance.json in the tar: %v", got)
	}
	checkFileStatement(t, []byte(m.body))

	dir := filepath.Join(t.TempDir(), "out")
	if err := ExportRootfs(img, dir, att); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "provenance.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkFileStatement(t, raw)
	if fi, _ := os.Stat(filepath.Join(dir, "provenance.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("provenance.json mode %v, want 0600 as BuildKit", fi.Mode())
	}

	dup := []Attestation{att, att}
	if err := StreamRootfsTar(&bytes.Buffer{}, img, dup...); err == nil {
		t.Error("two attestations with one file name accepted")
	}
}
