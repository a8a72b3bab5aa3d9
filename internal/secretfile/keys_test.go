package secretfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFindIdentities(t *testing.T) {
	home := t.TempDir()
	xdg := t.TempDir()
	a, b, c := newIdentity(t), newIdentity(t), newIdentity(t)
	fileB := filepath.Join(t.TempDir(), "b.txt")
	os.WriteFile(fileB, []byte("# comment\n"+b.String()+"\n"), 0o600)
	os.MkdirAll(filepath.Join(xdg, "hush"), 0o700)
	os.WriteFile(filepath.Join(xdg, "hush", "identity"), []byte(c.String()+"\n"), 0o600)
	os.MkdirAll(filepath.Join(home, ".config", "hush"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "hush", "identity"), []byte(c.String()+"\n"), 0o600)

	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    []string // identity strings, in order
		wantErr error
		errText []string
	}{
		{"contents", map[string]string{EnvIdentity: a.String()}, []string{a.String()}, nil, nil},
		{"file", map[string]string{EnvIdentityFile: fileB}, []string{b.String()}, nil, nil},
		{"both env", map[string]string{EnvIdentity: a.String(), EnvIdentityFile: fileB, "HOME": home}, []string{a.String(), b.String()}, nil, nil},
		{"xdg config", map[string]string{"XDG_CONFIG_HOME": xdg}, []string{c.String()}, nil, nil},
		{"home config", map[string]string{"HOME": home}, []string{c.String()}, nil, nil},
		{"none", map[string]string{"HOME": t.TempDir()}, nil, ErrNoIdentity,
			[]string{"$HUSH_IDENTITY (unset)", "$HUSH_IDENTITY_FILE (unset)", ".config/hush/identity (no such file)", "hush secret keygen"}},
		{"no home", map[string]string{}, nil, ErrNoIdentity, []string{"neither $XDG_CONFIG_HOME nor $HOME"}},
		{"bad contents", map[string]string{EnvIdentity: "AGE-SECRET-KEY-1NOTAKEY" + canary}, nil, nil, []string{"$HUSH_IDENTITY"}},
		{"missing file", map[string]string{EnvIdentityFile: filepath.Join(home, "nope")}, nil, os.ErrNotExist, []string{"HUSH_IDENTITY_FILE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := FindIdentities(envOf(tc.env))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("found %d identities, want an error", len(ids))
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %q does not wrap %v", err, tc.wantErr)
				}
				for _, s := range tc.errText {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if strings.Contains(err.Error(), canary) {
					t.Errorf("error leaks the identity: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, id := range ids {
				got = append(got, id.(*age.X25519Identity).String())
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("identities differ: got %d, want %d (order or source wrong)", len(got), len(tc.want))
			}
		})
	}
}

func TestParseRecipients(t *testing.T) {
	a, b := newIdentity(t), newIdentity(t)
	file := filepath.Join(t.TempDir(), "recipients")
	os.WriteFile(file, FormatRecipients([]age.Recipient{b.Recipient()}), 0o644)
	rs, err := ParseRecipients([]string{a.Recipient().String()}, []string{file})
	if err != nil || len(rs) != 2 {
		t.Fatalf("ParseRecipients = %d, %v", len(rs), err)
	}
	if rs[1].(*age.X25519Recipient).String() != b.Recipient().String() {
		t.Fatal("recipients file not read in order")
	}
	for _, tc := range []struct {
		values, files []string
		text          string
	}{
		{nil, nil, "no recipients"},
		{[]string{"age1notarecipient"}, nil, "not an age recipient"},
		{[]string{a.String()}, nil, "not an age recipient"},
		{nil, []string{filepath.Join(t.TempDir(), "missing")}, "reading recipients file"},
	} {
		if _, err := ParseRecipients(tc.values, tc.files); err == nil || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("ParseRecipients(%v, %v) error = %v, want %q", tc.values, tc.files, err, tc.text)
		}
	}
}

func TestGenerateIdentity(t *testing.T) {
	k, err := GenerateIdentity(time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.Recipient, "age1") || !strings.Contains(string(k.File), "# public key: "+k.Recipient+"\n") ||
		!strings.Contains(string(k.File), "# created: 2026-01-31T00:00:00Z\n") {
		t.Fatalf("unexpected identity file layout:\n%s", strings.ReplaceAll(string(k.File), "AGE-SECRET", "<redacted>"))
	}
	path := filepath.Join(t.TempDir(), "sub", "identity")
	if err := WriteNewFile(path, k.File, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteNewFile(path, k.File, 0o600); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second WriteNewFile = %v, want ErrExist", err)
	}
	ids, err := ReadIdentityFile(path)
	if err != nil || ids[0].(*age.X25519Identity).Recipient().String() != k.Recipient {
		t.Fatalf("identity file does not hold the printed recipient: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpen(t *testing.T) {
	id := newIdentity(t)
	dir := t.TempDir()
	env := envOf(map[string]string{EnvIdentity: id.String()})
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("not encrypted "+canary), 0o600)
	armored := filepath.Join(dir, "armored.age")
	WriteEncrypted(armored, []byte(canary), 0o600, id.Recipient())
	binary := filepath.Join(dir, "binary.age")
	os.WriteFile(binary, binaryEncrypt(t, []byte(canary), id.Recipient()), 0o600)
	for _, tc := range []struct {
		path string
		env  func(string) (string, bool)
		want string
		err  error
	}{
		{plain, envOf(nil), "not encrypted " + canary, nil},
		{armored, env, canary, nil},
		{binary, env, canary, nil},
		{armored, envOf(map[string]string{"HOME": dir}), "", ErrNoIdentity},
		{armored, envOf(map[string]string{EnvIdentity: newIdentity(t).String()}), "", ErrNoIdentityMatch},
		{filepath.Join(dir, "missing"), env, "", os.ErrNotExist},
	} {
		got, err := OpenEnv(tc.path, tc.env)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("OpenEnv(%s) error = %v, want %v", filepath.Base(tc.path), err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("OpenEnv(%s) = %q, %v; want %q", filepath.Base(tc.path), got, err, tc.want)
		}
	}
	t.Setenv(EnvIdentity, id.String())
	if got, err := Open(armored); err != nil || string(got) != canary {
		t.Fatalf("Open = %q, %v", got, err)
	}
}
