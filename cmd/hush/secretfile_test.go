package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/secret"
)

// secretCLI runs `hush secret …` in dir with exactly env (plus PATH), returning stdout,
// stderr and the exit code.
func secretCLI(t *testing.T, dir string, env []string, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	hushtest.Require(t, setupErr == nil, "preparing hush: "+errString(setupErr))
	cmd := exec.Command(hushBin, append([]string{"secret"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running hush secret %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var publicKeyLine = regexp.MustCompile(`(?m)^Public key: (age1[0-9a-z]+)$`)

// keygen makes an identity file with the CLI and returns its path and recipient.
func keygen(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	path := filepath.Join(dir, name)
	out, errOut, code := secretCLI(t, dir, nil, nil, "keygen", "-o", path)
	m := publicKeyLine.FindStringSubmatch(errOut)
	if code != 0 || out != "" || m == nil {
		t.Fatalf("keygen: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	return path, m[1]
}

func TestSecretKeygenEncryptDecrypt(t *testing.T) {
	dir := t.TempDir()
	const value = "CANARY-cli-roundtrip-8d1f"
	idFile, rcpt := keygen(t, dir, "id.txt")
	if b, _ := os.ReadFile(idFile); !strings.Contains(string(b), "# public key: "+rcpt) {
		t.Fatal("identity file does not hold the printed recipient")
	}
	if _, _, code := secretCLI(t, dir, nil, nil, "keygen", "-o", idFile); code == 0 {
		t.Fatal("keygen overwrote an existing identity")
	}
	otherFile, _ := keygen(t, dir, "other.txt")
	os.WriteFile(filepath.Join(dir, "plain"), []byte(value), 0o600)

	if _, e, code := secretCLI(t, dir, nil, nil, "encrypt", "-r", rcpt, "-o", "s.age", "plain"); code != 0 {
		t.Fatalf("encrypt: %d %s", code, e)
	}
	ct, _ := os.ReadFile(filepath.Join(dir, "s.age"))
	if !bytes.HasPrefix(ct, []byte("-----BEGIN AGE ENCRYPTED FILE-----\n")) || bytes.Contains(ct, []byte(value)) {
		t.Fatalf("encrypt output is not armored ciphertext:\n%s", ct)
	}
	// Encrypting from stdin to stdout, to a recipients file.
	os.WriteFile(filepath.Join(dir, "team.txt"), []byte("# team\n"+rcpt+"\n"), 0o644)
	stdoutCT, _, code := secretCLI(t, dir, nil, []byte(value), "encrypt", "-R", "team.txt", "-")
	if code != 0 || !strings.HasPrefix(stdoutCT, "-----BEGIN AGE") {
		t.Fatalf("encrypt - : %d %q", code, stdoutCT)
	}
	os.WriteFile(filepath.Join(dir, "s2.age"), []byte(stdoutCT), 0o644)

	idEnv, _ := os.ReadFile(idFile)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string // stdout on success
		err  string // stderr on failure
	}{
		{"identity file env", []string{"HUSH_IDENTITY_FILE=" + idFile}, []string{"decrypt", "s.age"}, value, ""},
		{"identity contents env", []string{"HUSH_IDENTITY=" + string(idEnv)}, []string{"decrypt", "s2.age"}, value, ""},
		{"-i flag", nil, []string{"decrypt", "-i", idFile, "s.age"}, value, ""},
		{"config dir", []string{"XDG_CONFIG_HOME=" + filepath.Join(dir, "cfg")}, []string{"decrypt", "s.age"}, "", "cfg/hush/identity (no such file)"},
		{"no identity", nil, []string{"decrypt", "s.age"}, "", "no age identity found; looked in $HUSH_IDENTITY (unset), $HUSH_IDENTITY_FILE (unset)"},
		{"wrong identity", []string{"HUSH_IDENTITY_FILE=" + otherFile}, []string{"decrypt", "s.age"}, "", "no identity matched"},
		{"encrypt without recipients", nil, []string{"encrypt", "plain"}, "", "no recipients"},
		{"encrypt twice", nil, []string{"encrypt", "-r", rcpt, "s.age"}, "", "already age-encrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := secretCLI(t, dir, tc.env, nil, tc.args...)
			if tc.err == "" {
				if code != 0 || out != tc.want {
					t.Fatalf("code %d, stdout %q, stderr %q", code, out, errOut)
				}
				return
			}
			if code == 0 || !strings.Contains(errOut, tc.err) {
				t.Fatalf("code %d, stderr %q, want %q", code, errOut, tc.err)
			}
			if strings.Contains(out+errOut, value) {
				t.Fatal("the secret was printed on failure")
			}
		})
	}
	// The identity in the config dir is found.
	cfg := filepath.Join(dir, "cfg", "hush")
	os.MkdirAll(cfg, 0o700)
	os.Rename(idFile, filepath.Join(cfg, "identity"))
	if out, e, code := secretCLI(t, dir, []string{"XDG_CONFIG_HOME=" + filepath.Join(dir, "cfg")}, nil, "decrypt", "s.age"); code != 0 || out != value {
		t.Fatalf("decrypt with the config-dir identity: %d %q %q", code, out, e)
	}
}

func TestSecretRekey(t *testing.T) {
	dir := t.TempDir()
	oldID, oldR := keygen(t, dir, "old.txt")
	newID, newR := keygen(t, dir, "new.txt")
	os.WriteFile(filepath.Join(dir, "plain"), []byte("K=v\n"), 0o600)
	for _, f := range []string{"a.age", "b.age"} {
		if _, e, code := secretCLI(t, dir, nil, nil, "encrypt", "-r", oldR, "-o", f, "plain"); code != 0 {
			t.Fatal(e)
		}
	}
	_, errOut, code := secretCLI(t, dir, []string{"HUSH_IDENTITY_FILE=" + oldID}, nil, "rekey", "-r", newR, "a.age", "b.age")
	if code != 0 || !strings.Contains(errOut, "rotate") {
		t.Fatalf("rekey: %d %q (want a note that secrets are not rotated)", code, errOut)
	}
	help, _, _ := secretCLI(t, dir, nil, nil, "rekey", "--help")
	if !strings.Contains(help, "does not rotate the\nsecrets themselves") {
		t.Errorf("rekey help does not say rekeying does not rotate secrets:\n%s", help)
	}
	for _, f := range []string{"a.age", "b.age"} {
		if out, _, code := secretCLI(t, dir, []string{"HUSH_IDENTITY_FILE=" + newID}, nil, "decrypt", f); code != 0 || out != "K=v\n" {
			t.Errorf("%s with the new identity: %d %q", f, code, out)
		}
		if _, e, code := secretCLI(t, dir, []string{"HUSH_IDENTITY_FILE=" + oldID}, nil, "decrypt", f); code == 0 || !strings.Contains(e, "no identity matched") {
			t.Errorf("%s still opens with the removed identity: %d %q", f, code, e)
		}
	}
}

// TestSecretEditCanary: during `hush secret edit` the plaintext lives only in a private
// directory on tmpfs, is gone afterwards, and no file anywhere else holds it.
func TestSecretEditCanary(t *testing.T) {
	shm, tmp := hushtest.ShmDir(t), t.TempDir()
	dir := t.TempDir()
	canary := "CANARY-edit-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 12))
	idFile, rcpt := keygen(t, dir, "id.txt")
	os.WriteFile(filepath.Join(dir, "app.env"), []byte("OLD=1\n"), 0o600)
	if _, e, code := secretCLI(t, dir, nil, nil, "encrypt", "-r", rcpt, "-o", "app.env.age", "app.env"); code != 0 {
		t.Fatal(e)
	}
	os.Remove(filepath.Join(dir, "app.env"))
	log := filepath.Join(dir, "editor.log")
	editor := filepath.Join(dir, "editor.sh")
	os.WriteFile(editor, []byte(`#!/bin/sh
set -e
echo "$1" > "$EDITOR_LOG"
stat -f -c %T "$(dirname "$1")" >> "$EDITOR_LOG"
ls -ld "$(dirname "$1")" | cut -c1-10 >> "$EDITOR_LOG"
grep -q '^OLD=1$' "$1"
printf 'NEW="%s\\nline2"\n' "$CANARY" >> "$1"
`), 0o755)
	env := []string{"HUSH_IDENTITY_FILE=" + idFile, "EDITOR=" + editor, "EDITOR_LOG=" + log, "CANARY=" + canary,
		"XDG_RUNTIME_DIR=" + shm, "TMPDIR=" + tmp}

	// Without -r/-R and without a sidecar, edit refuses before decrypting anything.
	if _, e, code := secretCLI(t, dir, env, nil, "edit", "app.env.age"); code == 0 || !strings.Contains(e, "app.env.age.recipients") {
		t.Fatalf("edit without recipients: %d %q", code, e)
	}
	os.WriteFile(filepath.Join(dir, "app.env.age.recipients"), []byte(rcpt+"\n"), 0o644)
	out, errOut, code := secretCLI(t, dir, env, nil, "edit", "app.env.age")
	if code != 0 || !strings.Contains(errOut, "re-encrypted") {
		t.Fatalf("edit: %d %q %q", code, out, errOut)
	}
	rec, _ := os.ReadFile(log)
	f := strings.Fields(string(rec))
	if len(f) != 3 || !strings.HasPrefix(f[0], shm+"/hush-edit-") || f[1] != "tmpfs" || f[2] != "drwx------" {
		t.Fatalf("editor saw %q; want a file in a private (0700) dir on tmpfs", f)
	}
	if _, err := os.Stat(filepath.Dir(f[0])); !os.IsNotExist(err) {
		t.Fatalf("plaintext dir %s survived the edit: %v", filepath.Dir(f[0]), err)
	}
	plain, _, code := secretCLI(t, dir, env, nil, "decrypt", "app.env.age")
	if code != 0 || plain != "OLD=1\nNEW=\""+canary+"\\nline2\"\n" {
		t.Fatalf("decrypted after edit: %q", plain)
	}
	vars, err := secret.ParseEnvFile(strings.NewReader(plain))
	if err != nil || len(vars) != 2 || string(vars[1].Value) != canary+"\nline2" {
		t.Fatalf("edited file as an env file: %v %v", vars, err)
	}
	hushtest.NoCanary(t, []byte(canary), dir, shm, tmp)
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSecretAgeCLIInterop(t *testing.T) {
	ageBin := hushtest.RequireBinary(t, "age")
	dir := t.TempDir()
	idFile, rcpt := keygen(t, dir, "id.txt")
	os.WriteFile(filepath.Join(dir, "plain"), []byte("from age\n"), 0o600)
	if out, err := exec.Command(ageBin, "-a", "-r", rcpt, "-o", filepath.Join(dir, "by-age.age"), filepath.Join(dir, "plain")).CombinedOutput(); err != nil {
		t.Fatalf("age -a -r: %v %s", err, out)
	}
	if out, e, code := secretCLI(t, dir, []string{"HUSH_IDENTITY_FILE=" + idFile}, nil, "decrypt", "by-age.age"); code != 0 || out != "from age\n" {
		t.Fatalf("hush decrypt of an age file: %d %q %q", code, out, e)
	}
	if _, e, code := secretCLI(t, dir, nil, nil, "encrypt", "-r", rcpt, "-o", "by-hush.age", "plain"); code != 0 {
		t.Fatal(e)
	}
	out, err := exec.Command(ageBin, "-d", "-i", idFile, filepath.Join(dir, "by-hush.age")).Output()
	if err != nil || string(out) != "from age\n" {
		t.Fatalf("age -d of a hush file: %q %v", out, err)
	}
}

func TestSecretImportJet(t *testing.T) {
	dir := t.TempDir()
	testdata, _ := filepath.Abs(filepath.Join("..", "..", "internal", "jet", "testdata"))
	key := filepath.Join(testdata, "codeship.aes")
	idFile, rcpt := keygen(t, dir, "id.txt")
	outDir := filepath.Join(dir, "out")
	os.Mkdir(outDir, 0o755)
	ins := []string{filepath.Join(testdata, "env.v1.encrypted"), filepath.Join(testdata, "env.v2.encrypted"), filepath.Join(testdata, "dockercfg.v2.encrypted")}

	// --decrypt prints.
	out, e, code := secretCLI(t, dir, nil, nil, append([]string{"import-jet", "--key", key, "--decrypt"}, ins[1])...)
	if want, _ := os.ReadFile(filepath.Join(testdata, "env.v2")); code != 0 || out != string(want) {
		t.Fatalf("--decrypt: %d %q %q", code, out, e)
	}
	// Re-encrypt to age.
	_, e, code = secretCLI(t, dir, nil, nil, append([]string{"import-jet", "--key", key, "-r", rcpt, "-o", outDir}, ins...)...)
	if code != 0 || !strings.Contains(e, "(Jet v1)") || !strings.Contains(e, "(Jet v2)") {
		t.Fatalf("import-jet: %d %q", code, e)
	}
	for _, name := range []string{"env.v1", "env.v2", "dockercfg.v2"} {
		want, _ := os.ReadFile(filepath.Join(testdata, name))
		got, e, code := secretCLI(t, dir, []string{"HUSH_IDENTITY_FILE=" + idFile}, nil, "decrypt", filepath.Join(outDir, name+".age"))
		if code != 0 || got != string(want) {
			t.Errorf("%s.age: %d %q %q", name, code, got, e)
		}
	}
	// Outputs are not replaced without --force.
	if _, e, code := secretCLI(t, dir, nil, nil, "import-jet", "--key", key, "-r", rcpt, "-o", outDir, ins[0]); code == 0 || !strings.Contains(e, "already exists") {
		t.Fatalf("import-jet over an existing output: %d %q", code, e)
	}

	// A wrong key.
	wrongKey := filepath.Join(dir, "wrong.aes")
	os.WriteFile(wrongKey, []byte(base64.StdEncoding.EncodeToString(randBytes(t, 32))), 0o600)
	for in, want := range map[string]string{ins[0]: "the key is probably wrong", ins[1]: "the key does not match this file"} {
		out, e, code := secretCLI(t, dir, nil, nil, "import-jet", "--key", wrongKey, "--decrypt", in)
		if code == 0 || !strings.Contains(e, want) || out != "" {
			t.Errorf("%s with a wrong key: %d stdout %q stderr %q; want %q", filepath.Base(in), code, out, e, want)
		}
	}
	if _, e, code := secretCLI(t, dir, nil, nil, "import-jet", "--key", key, ins[0]); code == 0 || !strings.Contains(e, "no recipients") {
		t.Errorf("import-jet without recipients: %d %q", code, e)
	}
}

// TestBuildWithEncryptedSecret: --secret src=FILE.age is decrypted in memory for the
// step, and neither the plaintext nor a decrypted copy is left anywhere.
func TestBuildWithEncryptedSecret(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	canary := "CANARY-agebuild-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 12))
	idFile, rcpt := keygen(t, env.Dir, "id.txt")
	pt := env.WriteFile("npmrc", canary)
	if _, e, code := secretCLI(t, env.Dir, nil, nil, "encrypt", "-r", rcpt, "-o", "npmrc.age", "npmrc"); code != 0 {
		t.Fatal(e)
	}
	os.Remove(pt)
	ctx := filepath.Join(env.Dir, "ctx")
	env.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=npm sha256sum /run/secrets/npm\n")
	out := filepath.Join(env.Dir, "out")
	cmd := env.Command("build", "--progress=plain", "--secret", "id=npm,src=npmrc.age", "-o", "type=local,dest="+out, ctx)
	cmd.Env = append(cmd.Env, "HUSH_IDENTITY_FILE="+idFile)
	log, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(log), sum(canary)+"  /run/secrets/npm") {
		t.Fatalf("build: %v\n%s", err, log)
	}
	// Without an identity the build fails and says where it looked.
	cmd = env.Command("build", "--progress=plain", "--secret", "id=npm,src=npmrc.age", ctx)
	cmd.Env = append(cmd.Env, "HOME="+env.Dir, "XDG_CONFIG_HOME=", "HUSH_IDENTITY=", "HUSH_IDENTITY_FILE=")
	if log, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(log), "no age identity found") {
		t.Fatalf("build without an identity: %v\n%s", err, log)
	}
	env.NoCanary([]byte(canary))
}
