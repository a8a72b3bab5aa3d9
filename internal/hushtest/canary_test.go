package hushtest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestFindCanary(t *testing.T) {
	canary := []byte("CANARY-7f3a9-token")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("prefix " + string(canary) + " suffix"))
	zw.Close()
	cases := map[string][]byte{
		"raw":      []byte("a" + string(canary) + "b"),
		"b64":      []byte(base64.StdEncoding.EncodeToString([]byte("user:" + string(canary)))),
		"b64shift": []byte(base64.URLEncoding.EncodeToString([]byte("ab" + string(canary) + "zz"))),
		"gzip":     gz.Bytes(),
		"clean":    []byte("nothing to see here"),
	}
	dir := t.TempDir()
	for name, data := range cases {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hits, err := FindCanary(canary, dir)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, h := range hits {
		found[filepath.Base(h)] = true
	}
	for name := range cases {
		want := name != "clean"
		got := found[name] || found[name+" (gunzipped)"]
		if got != want {
			t.Errorf("%s: found=%v, want %v (hits %v)", name, got, want, hits)
		}
	}
}
