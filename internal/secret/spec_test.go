package secret

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	cases := []struct {
		in   string
		want Spec
		err  string
	}{
		{in: "id=npm,src=/a/.npmrc", want: Spec{ID: "npm", Src: "/a/.npmrc"}},
		{in: "id=npm,source=f", want: Spec{ID: "npm", Src: "f"}},
		{in: "id=tok,env=API_TOKEN", want: Spec{ID: "tok", Env: "API_TOKEN"}},
		{in: "id=tok,type=env,src=API_TOKEN", want: Spec{ID: "tok", Env: "API_TOKEN"}},
		{in: "id=tok,type=file,src=x", want: Spec{ID: "tok", Src: "x"}},
		{in: "id=tok", want: Spec{ID: "tok"}},
		{in: `id=t,"src=/path/with,comma"`, want: Spec{ID: "t", Src: "/path/with,comma"}},
		{in: "id=t,src=f,rebuild-on-change", want: Spec{ID: "t", Src: "f", RebuildOnChange: true}},
		{in: "id=t,src=f,rebuild-on-change=false", want: Spec{ID: "t", Src: "f"}},
		{in: "ID=t,SRC=f", want: Spec{ID: "t", Src: "f"}},
		{in: "id=t,type=bogus", err: `unsupported secret type "bogus"`},
		{in: "id=t,foo=bar", err: "unexpected key 'foo' in 'foo=bar'"},
		{in: "id=t,src", err: "invalid field 'src' must be a key=value pair"},
		{in: "src=f", err: "secret missing ID"},
		{in: `id="unterminated`, err: "failed to parse csv secret"},
		{in: "id=t,rebuild-on-change=maybe", err: "invalid value for rebuild-on-change"},
	}
	for _, tc := range cases {
		got, err := ParseSpec(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSpec(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	if err := os.WriteFile(file, []byte("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FROM_ENV": "from-env", "AUTO": "auto-env", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(dir)
	s, err := Load([]Spec{
		{ID: "a", Src: file},
		{ID: "b", Env: "FROM_ENV"},
		{ID: "AUTO"},               // env var set: read it
		{ID: "tok"},                // no env var: the file named like the id
		{ID: "e", Env: "EMPTY"},    // set but empty is a value
		{ID: "a", Env: "FROM_ENV"}, // duplicate id: last wins
	}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "from-env", "b": "from-env", "AUTO": "auto-env", "tok": "from-file", "e": ""}
	for id, v := range want {
		got, err := s.Get(context.Background(), id)
		if err != nil || string(got) != v {
			t.Errorf("Get(%s) = %q, %v; want %q", id, got, err, v)
		}
	}
	if _, err := s.Get(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nope) = %v, want ErrNotFound", err)
	}
	if got := strings.Join(s.IDs(), ","); got != "AUTO,a,b,e,tok" {
		t.Errorf("IDs = %s", got)
	}
	s.Wipe()
	if s.Has("a") {
		t.Error("Wipe kept a value")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(string) (string, bool) { return "", false }
	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{ID: "x", Env: "UNSET_VAR"}, "secret x: environment variable UNSET_VAR is not set"},
		{Spec{ID: "y", Src: filepath.Join(dir, "missing")}, "secret y: open"},
		{Spec{ID: "z", Src: big}, "larger than the 16 MiB limit"},
	}
	for _, tc := range cases {
		_, err := Load([]Spec{tc.spec}, lookup)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%+v) = %v, want %q", tc.spec, err, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keys", "fp")
	k1, err := LoadFingerprintKey(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi, err)
	}
	k2, err := LoadFingerprintKey(p)
	if err != nil {
		t.Fatal(err)
	}
	a := k1.Fingerprint("id", []byte("v1"))
	if a != k2.Fingerprint("id", []byte("v1")) {
		t.Error("same key, same value: fingerprints differ")
	}
	if a == k1.Fingerprint("id", []byte("v2")) || a == k1.Fingerprint("other", []byte("v1")) {
		t.Error("fingerprint does not change with value or id")
	}
	k3, _ := LoadFingerprintKey(filepath.Join(dir, "other"))
	if a == k3.Fingerprint("id", []byte("v1")) {
		t.Error("fingerprint does not depend on the key")
	}
	if strings.Contains(a, "v1") {
		t.Error("fingerprint contains the value")
	}
}
