package cli

import (
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/hush-build/hush/internal/secretfile"
)

// TestAddArgFilesPrivate: the args an encrypted --build-arg-file supplies are private
// (kept out of provenance); a plain file's are not, and --build-arg's value wins.
func TestAddArgFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(secretfile.EnvIdentity, id.String())
	ct, err := secretfile.Encrypt([]byte("ENC=from-encrypted\nBOTH=enc\nOVER=enc\n"), id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	enc, plain := filepath.Join(dir, "args.age"), filepath.Join(dir, "args.env")
	os.WriteFile(enc, ct, 0o600)
	os.WriteFile(plain, []byte("PLAIN=p\nBOTH=plain\n"), 0o600)

	args := map[string]string{"OVER": "flag"}
	private, err := addArgFiles(args, []string{plain, enc})
	if err != nil {
		t.Fatal(err)
	}
	if args["ENC"] != "from-encrypted" || args["BOTH"] != "plain" || args["OVER"] != "flag" || args["PLAIN"] != "p" {
		t.Errorf("args %v", args)
	}
	for k, want := range map[string]bool{"ENC": true, "BOTH": false, "OVER": false, "PLAIN": false} {
		if private[k] != want {
			t.Errorf("private[%s] = %v, want %v", k, private[k], want)
		}
	}
}
