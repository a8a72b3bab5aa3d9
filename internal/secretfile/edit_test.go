package secretfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/hush-build/hush/internal/hushtest"
)

// editorScript writes an editor that records the path it was given (and whether its
// directory is on tmpfs) to log, then runs body with $1 as the file.
func editorScript(t *testing.T, log, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "editor.sh")
	script := "#!/bin/sh\nset -e\necho \"$1\" > " + log + "\nstat -f -c %T \"$(dirname \"$1\")\" >> " + log + "\n" + body + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEdit(t *testing.T) {
	dir := hushtest.ShmDir(t)
	id := newIdentity(t)
	work, tmp := t.TempDir(), t.TempDir()
	path := filepath.Join(work, "app.env.age")
	if err := WriteEncrypted(path, []byte("OLD=1\n"), 0o600, id.Recipient()); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(work, "editor.log")
	editor := editorScript(t, log, `grep -q '^OLD=1$' "$1"; echo "NEW=$CANARY_VALUE" >> "$1"; echo swap > "$1.swp"`)
	t.Setenv(EnvIdentity, id.String())
	changed, err := Edit(context.Background(), path, EditOptions{
		Identities: []age.Identity{id}, Recipients: []age.Recipient{id.Recipient()},
		Editor: editor, TmpfsDirs: []string{work, dir}, Env: append(os.Environ(), "CANARY_VALUE="+canary, "TMPDIR="+tmp),
	})
	if err != nil || !changed {
		t.Fatalf("Edit = %v, %v", changed, err)
	}
	rec, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	where := strings.Fields(string(rec))
	if len(where) != 2 || !strings.HasPrefix(where[0], dir+"/hush-edit-") || where[1] != "tmpfs" {
		t.Fatalf("editor saw %q, want a file in a private dir on %s (tmpfs)", where, dir)
	}
	if filepath.Base(where[0]) != "app.env" {
		t.Errorf("plaintext named %s, want app.env (.age stripped)", filepath.Base(where[0]))
	}
	if _, err := os.Stat(filepath.Dir(where[0])); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("plaintext dir still exists: %v", err)
	}
	data, _ := os.ReadFile(path)
	got, err := Decrypt(data, id)
	if err != nil || string(got) != "OLD=1\nNEW="+canary+"\n" {
		t.Fatalf("re-encrypted file holds %q, %v", got, err)
	}
	hushtest.NoCanary(t, []byte(canary), work, dir, tmp)
}

func TestEditEnvironment(t *testing.T) {
	dir := hushtest.ShmDir(t)
	id := newIdentity(t)
	work := t.TempDir()
	log := filepath.Join(work, "log")
	editor := editorScript(t, log, `env > "$1"`)
	_, err := Edit(context.Background(), filepath.Join(work, "new.age"), EditOptions{
		Recipients: []age.Recipient{id.Recipient()}, Editor: editor, TmpfsDirs: []string{dir},
		Env: []string{"PATH=" + os.Getenv("PATH"), EnvIdentity + "=" + id.String(), "KEEP=1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(work, "new.age"))
	got, err := Decrypt(data, id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), "AGE-SECRET-KEY") || !strings.Contains(string(got), "KEEP=1") {
		t.Fatalf("editor environment: want KEEP=1 and no %s, got\n%s", EnvIdentity, strings.ReplaceAll(string(got), "AGE-SECRET-KEY", "<leaked>"))
	}
}

func TestEditNoChange(t *testing.T) {
	dir := hushtest.ShmDir(t)
	id := newIdentity(t)
	work := t.TempDir()
	for _, tc := range []struct {
		name    string
		exists  bool
		body    string
		changed bool
		err     string
	}{
		{"unchanged", true, "true", false, ""},
		{"editor fails", true, `echo changed > "$1"; exit 3`, false, "encrypted file is unchanged"},
		{"new and empty", false, "true", false, ""},
		{"new with text", false, `echo hi > "$1"`, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(work, tc.name+".age")
			var before []byte
			if tc.exists {
				WriteEncrypted(path, []byte("same\n"), 0o600, id.Recipient())
				before, _ = os.ReadFile(path)
			}
			changed, err := Edit(context.Background(), path, EditOptions{
				Identities: []age.Identity{id}, Recipients: []age.Recipient{id.Recipient()},
				Editor: editorScript(t, filepath.Join(work, "log"), tc.body), TmpfsDirs: []string{dir},
			})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Edit error = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if changed != tc.changed {
				t.Fatalf("changed = %v, want %v", changed, tc.changed)
			}
			after, statErr := os.ReadFile(path)
			if tc.exists && string(after) != string(before) {
				t.Fatal("file rewritten though nothing changed")
			}
			if !tc.exists && !tc.changed && statErr == nil {
				t.Fatal("empty new file was created")
			}
		})
	}
}

func TestEditRefusesWithoutTmpfs(t *testing.T) {
	disk := hushtest.PersistentDir(t)
	id := newIdentity(t)
	path := filepath.Join(disk, "f.age")
	WriteEncrypted(path, []byte(canary), 0o600, id.Recipient())
	_, err := Edit(context.Background(), path, EditOptions{
		Identities: []age.Identity{id}, Recipients: []age.Recipient{id.Recipient()},
		Editor: "false", TmpfsDirs: []string{disk, filepath.Join(disk, "missing")},
	})
	if !errors.Is(err, ErrNoTmpfs) {
		t.Fatalf("Edit without tmpfs = %v, want ErrNoTmpfs", err)
	}
	entries, _ := os.ReadDir(disk)
	if len(entries) != 1 {
		t.Fatalf("something was written to disk: %d entries", len(entries))
	}
}

func TestEditWrongIdentity(t *testing.T) {
	dir := hushtest.ShmDir(t)
	id := newIdentity(t)
	path := filepath.Join(t.TempDir(), "f.age")
	WriteEncrypted(path, []byte(canary), 0o600, id.Recipient())
	_, err := Edit(context.Background(), path, EditOptions{
		Identities: []age.Identity{newIdentity(t)}, Recipients: []age.Recipient{id.Recipient()},
		Editor: "true", TmpfsDirs: []string{dir},
	})
	if !errors.Is(err, ErrNoIdentityMatch) {
		t.Fatalf("Edit = %v, want ErrNoIdentityMatch", err)
	}
}
