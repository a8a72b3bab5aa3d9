package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/registry/registrytest"
)

// TestImageGenerator: a hush image is the credential generator (Codeship's
// dockercfg_service): `hush build --push` and `hush push` run it with its output path on a
// tmpfs as the last argument, use the dockercfg it wrote, and leave no file behind.
func TestImageGenerator(t *testing.T) {
	requireHush(t)
	pass := "CANARY-imagegen-pass-31337"
	srv := registrytest.Start(t, map[string]string{"ci": pass})
	env := hushtest.NewEnv(t, hushBin)
	auth := base64.StdEncoding.EncodeToString([]byte("ci:" + pass))
	env.WriteFile("gen/gen.sh", "for last; do :; done\necho \"generator writes $last\"\n"+
		"printf '{\"auths\":{\""+srv.Host+"\":{\"auth\":\""+auth+"\"}}}' > \"$last\"\n")
	env.WriteFile("gen/Dockerfile", "FROM busybox\nCOPY gen.sh /gen.sh\nENTRYPOINT [\"/bin/sh\", \"/gen.sh\"]\n")
	if _, e, code := env.Run("build", "-q", "--audit=off", "-t", "credgen:1", filepath.Join(env.Dir, "gen")); code != 0 {
		t.Fatalf("building the generator image: %d\n%s", code, e)
	}
	env.WriteFile("app/Dockerfile", "FROM busybox\nRUN echo app > /app.txt\n")
	ref := srv.Host + "/team/app:1"
	_, log, code := env.Run("build", "--progress=plain", "--push", "-t", ref, "--registry-auth-generator", "image:credgen:1",
		"--registry-ca", srv.CAFile, filepath.Join(env.Dir, "app"))
	if code != 0 || !strings.Contains(log, "pushing "+ref) || !strings.Contains(log, "generator writes "+registry.ImageOutDir+"/dockercfg") {
		t.Fatalf("build --push with an image generator: %d\n%s", code, log)
	}
	out, e, code := env.Run("push", "--registry-auth-generator", "image:credgen:1", "--registry-ca", srv.CAFile, ref, srv.Host+"/team/app:2")
	if code != 0 || !strings.Contains(out, "pushed") {
		t.Fatalf("hush push with an image generator: %d\n%s%s", code, out, e)
	}
	if strings.Contains(log+out+e, pass) {
		t.Error("password in the output")
	}
	// Only the audit ledger's key may stay on the tmpfs (it is meant to).
	if left, err := filepath.Glob(filepath.Join(env.Shm, "*")); err != nil || len(left) > 1 ||
		(len(left) == 1 && filepath.Base(left[0]) != "hush-keys") {
		t.Errorf("generator output left behind in %s=%s: %v %v", hushtest.TmpfsDirEnv, env.Shm, left, err)
	}
	if keys, _ := filepath.Glob(filepath.Join(env.Shm, "hush-keys", "*")); len(keys) > 0 {
		for _, k := range keys {
			if !strings.HasPrefix(filepath.Base(k), "ledger-") {
				t.Errorf("generator output left behind: %s", k)
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(env.Dir, "gen")); err != nil {
		t.Fatal(err)
	}
	os.Setenv("HUSH_TEST_PASS", pass)
	defer os.Unsetenv("HUSH_TEST_PASS")
	if o, e, code := env.Run("audit", "--secret", "id=pass,env=HUSH_TEST_PASS", ref); code != 0 {
		t.Errorf("the pushed image holds the password? audit: %d\n%s%s", code, o, e)
	}
}

// TestGeneratorDiskCache: with --registry-auth-cache the generator runs once while its
// credentials are fresh, the cached copy is encrypted (the password is not on disk in any
// encoding), and an expired entry makes it run again.
func TestGeneratorDiskCache(t *testing.T) {
	requireHush(t)
	pass := "CANARY-gencache-pass-4711"
	srv := registrytest.Start(t, map[string]string{"ci": pass})
	env := hushtest.NewEnv(t, hushBin)
	env.WriteFile("app/Dockerfile", "FROM busybox\nRUN echo app > /app.txt\n")
	if _, e, code := env.Run("build", "-q", "-t", "app:1", filepath.Join(env.Dir, "app")); code != 0 {
		t.Fatalf("build: %s", e)
	}
	count := filepath.Join(env.Dir, "count")
	gen := env.WriteFile("gen.sh", "#!/bin/sh\nfor last; do :; done\necho x >> "+count+"\n"+
		"printf '{\"auths\":{\""+srv.Host+"\":{\"auth\":\"%s\"}}}' \"$GEN_AUTH\" > \"$last\"\n")
	if err := os.Chmod(gen, 0o755); err != nil {
		t.Fatal(err)
	}
	push := func(gen, ttl, tag string) {
		t.Helper()
		cmd := env.Command("push", "--registry-auth-generator", gen, "--registry-auth-cache", ttl, "--registry-ca", srv.CAFile,
			"app:1", srv.Host+"/team/app:"+tag)
		cmd.Env = append(cmd.Env, "GEN_AUTH="+base64.StdEncoding.EncodeToString([]byte("ci:"+pass)))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
	}
	runs := func() int {
		b, _ := os.ReadFile(count)
		return strings.Count(string(b), "x")
	}
	push(gen, "10m", "a")
	push(gen, "10m", "b")
	if n := runs(); n != 1 {
		t.Errorf("generator ran %d times with a fresh cache, want 1", n)
	}
	env.NoCanary([]byte(pass))
	if keys, err := filepath.Glob(filepath.Join(env.Shm, "hush-keys", "regauth-*")); err != nil || len(keys) != 1 {
		t.Errorf("want the cache key in %s=%s/hush-keys: %v %v", hushtest.TmpfsDirEnv, env.Shm, keys, err)
	}
	entries, _ := os.ReadDir(filepath.Join(env.Root, "regauth"))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".age") {
			t.Errorf("credential cache holds %s: only encrypted entries may be on disk (the key lives on a tmpfs)", e.Name())
		}
	}
	gen2 := filepath.Join(env.Dir, "gen2.sh") // another generator: its own cache entry
	if err := os.Link(gen, gen2); err != nil {
		t.Fatal(err)
	}
	push(gen2, "1ms", "c") // stores an entry that expires at once
	push(gen2, "1ms", "d")
	if n := runs(); n != 3 {
		t.Errorf("generator ran %d times, want 3 (expired entries are not used)", n)
	}
}
