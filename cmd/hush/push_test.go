package main

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/registry/registrytest"
)

// pushGenerator is a Codeship-style dockercfg generator: it writes a fresh
// dockercfg for $GEN_REGISTRY to its last argument and records that path.
const pushGenerator = `#!/bin/sh
for last; do :; done
echo "$last" > "$GEN_RECORD"
printf '{"https://%s/":{"auth":"%s","email":"ci@example.com"}}' "$GEN_REGISTRY" "$GEN_AUTH" > "$last"
`

// TestPushBuiltImage builds an image with hush, pushes it with `hush push` to a real
// registry (TLS from a test CA, htpasswd auth) with generator-minted credentials, pulls
// it back, and checks that the password is nowhere: not in the store, the registry, the
// output, temp dirs or the generator's tmpfs.
func TestPushBuiltImage(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	secret := "hush-push-canary-" + time.Now().Format("150405.000000000")
	wrong := "hush-wrong-canary-" + time.Now().Format("150405.000000000")
	srv := registrytest.Start(t, map[string]string{"ci": secret})

	env.WriteFile("ctx/Dockerfile", "FROM busybox:latest\nRUN echo built-by-hush > /built\n")
	if out, errOut, code := env.Run("build", "--progress=plain", "-t", "demo", filepath.Join(env.Dir, "ctx")); code != 0 {
		t.Fatalf("hush build: exit %d\n%s\n%s", code, out, errOut)
	}
	gen := env.WriteFile("gen.sh", pushGenerator)
	if err := os.Chmod(gen, 0o755); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(env.Dir, "gen-record")
	dockerConfig := filepath.Join(env.Dir, "empty-docker-config")
	ref := srv.Host + "/hush/demo:1"

	push := func(extraEnv []string, args ...string) (string, string, int) {
		cmd := env.Command(append([]string{"push", "--registry-ca", srv.CAFile}, args...)...)
		cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+dockerConfig)
		cmd.Env = append(cmd.Env, extraEnv...)
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		code := 0
		if err != nil {
			code = 1
		}
		return o.String(), e.String(), code
	}

	genEnv := []string{"GEN_RECORD=" + record, "GEN_REGISTRY=" + srv.Host,
		"GEN_AUTH=" + base64.StdEncoding.EncodeToString([]byte("ci:"+secret))}
	out, errOut, code := push(genEnv, "--registry-auth-generator", gen, "demo", ref)
	if code != 0 {
		t.Fatalf("hush push: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.HasPrefix(out, "pushed "+ref+"@sha256:") {
		t.Errorf("push output %q", out)
	}
	genOut, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("generator did not run: %v", err)
	}
	if !strings.HasPrefix(string(genOut), env.Shm+"/hush-regauth-") {
		t.Errorf("generator output %s is not in a private dir under %s=%s", genOut, hushtest.TmpfsDirEnv, env.Shm)
	}
	if _, err := os.Stat(strings.TrimSpace(string(genOut))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("generator output %s still exists after the push", genOut)
	}

	store, err := image.OpenStore(filepath.Join(env.Root, "store"))
	if err != nil {
		t.Fatal(err)
	}
	local, _, err := store.Image("demo")
	if err != nil {
		t.Fatal(err)
	}
	creds := env.WriteFile("auth.json", `{"auths":{"`+srv.Host+`/":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("ci:"+secret))+`"}}}`)
	kc, err := registry.Credentials{AuthFile: creds, NoUserConfig: true}.Keychain()
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := registry.Pull(context.Background(), ref, kc, nil, registry.WithCACerts(srv.CACert))
	if err != nil {
		t.Fatalf("pulling back: %v", err)
	}
	ld, _ := local.Digest()
	pd, err := pulled.Digest()
	if err != nil || pd != ld {
		t.Errorf("pulled %v (%v), pushed %v", pd, err, ld)
	}
	os.Remove(creds)

	bad := env.WriteFile("wrong.json", `{"auths":{"`+srv.Host+`":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("ci:"+wrong))+`"}}}`)
	_, errOut, code = push(nil, "--registry-auth", bad, "demo", ref)
	if code == 0 {
		t.Fatal("push with a wrong password succeeded")
	}
	if !strings.Contains(errOut, "registry "+srv.Host+" refused the credentials from --registry-auth "+bad) {
		t.Errorf("wrong-password error does not name the registry and the source:\n%s", errOut)
	}
	if strings.Contains(errOut, wrong) {
		t.Errorf("wrong-password error shows the password:\n%s", errOut)
	}
	os.Remove(bad)

	for _, c := range []string{secret, wrong} {
		env.NoCanary([]byte(c), srv.Dir)
		if strings.Contains(out+errOut, c) {
			t.Errorf("hush output shows a password")
		}
	}
}
