package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/registry/registrytest"
)

// TestBuildPushAndPrivateBase: `hush build --push` pushes to a registry with auth, a second
// state dir builds FROM that private image (pulled with --registry-auth), and the password is
// nowhere in either store or the logs.
func TestBuildPushAndPrivateBase(t *testing.T) {
	requireHush(t)
	pass := "CANARY-regpass-" + time.Now().Format("150405.000000")
	srv := registrytest.Start(t, map[string]string{"ci": pass})
	auth := `{"auths":{"` + srv.Host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("ci:"+pass)) + `"}}}`

	a := hushtest.NewEnv(t, hushBin)
	authFile := a.WriteFile("auth.json", auth)
	a.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN echo private-base > /base.txt\n")
	ref := srv.Host + "/team/base:1"
	out, log, code := a.Run("build", "--progress=plain", "--push", "-t", ref, "--registry-auth", authFile,
		"--registry-ca", srv.CAFile, filepath.Join(a.Dir, "ctx"))
	if code != 0 || !strings.Contains(log, "pushing "+ref) {
		t.Fatalf("build --push: %d\n%s%s", code, out, log)
	}

	b := hushtest.NewEnv(t, hushBin)
	b.WriteFile("ctx/Dockerfile", "FROM "+ref+"\nRUN cat /base.txt\n")
	bAuth := b.WriteFile("auth.json", auth)
	_, log, code = b.Run("build", "--progress=plain", "--registry-ca", srv.CAFile, filepath.Join(b.Dir, "ctx"))
	if code == 0 {
		t.Fatalf("FROM a private image without credentials succeeded:\n%s", log)
	}
	_, log, code = b.Run("build", "--progress=plain", "--registry-auth", bAuth, "--registry-ca", srv.CAFile, filepath.Join(b.Dir, "ctx"))
	if code != 0 || !strings.Contains(log, "private-base") {
		t.Fatalf("FROM private base with --registry-auth: %d\n%s", code, log)
	}
	if strings.Contains(log, pass) {
		t.Error("password in the build log")
	}
	// The user's own auth files hold the password; nothing else may.
	for _, f := range []string{authFile, bAuth} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	a.NoCanary([]byte(pass), srv.Dir)
	b.NoCanary([]byte(pass))
}
