package secretfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestAgeCLIInterop checks files against the real age binary (Debian package age) in
// both directions.
func TestAgeCLIInterop(t *testing.T) {
	ageBin := hushtest.RequireBinary(t, "age")
	keygen := hushtest.RequireBinary(t, "age-keygen")
	dir := t.TempDir()
	idFile := filepath.Join(dir, "key.txt")
	if out, err := exec.Command(keygen, "-o", idFile).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v\n%s", err, out)
	}
	ids, err := ReadIdentityFile(idFile)
	if err != nil {
		t.Fatal(err)
	}
	rcpt := ids[0].(*age.X25519Identity).Recipient().String()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("TOKEN="+canary+"\nmulti\nline\n"), 0o600)

	for _, armor := range []bool{true, false} {
		// age encrypts, hush decrypts.
		args := []string{"-r", rcpt, "-o", filepath.Join(dir, "by-age"), plain}
		if armor {
			args = append([]string{"-a"}, args...)
		}
		if out, err := exec.Command(ageBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("age %v: %v\n%s", args, err, out)
		}
		got, err := OpenEnv(filepath.Join(dir, "by-age"), envOf(map[string]string{EnvIdentityFile: idFile}))
		if err != nil || string(got) != "TOKEN="+canary+"\nmulti\nline\n" {
			t.Fatalf("armor=%v: hush read %q, %v", armor, got, err)
		}
		os.Remove(filepath.Join(dir, "by-age"))
	}

	// hush encrypts (armored), age decrypts.
	recipients, err := ParseRecipients([]string{rcpt}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byHush := filepath.Join(dir, "by-hush.age")
	if err := WriteEncrypted(byHush, []byte(canary), 0o600, recipients...); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ageBin, "-d", "-i", idFile, byHush).Output()
	if err != nil || string(out) != canary {
		t.Fatalf("age -d of a hush file: %q, %v", out, err)
	}
	// And a wrong identity fails in age too.
	other, _ := GenerateIdentity(time.Time{})
	otherFile := filepath.Join(dir, "other.txt")
	os.WriteFile(otherFile, other.File, 0o600)
	out, err = exec.Command(ageBin, "-d", "-i", otherFile, byHush).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no identity matched") {
		t.Fatalf("age -d with a hush-generated foreign identity: %v\n%s", err, out)
	}
}
