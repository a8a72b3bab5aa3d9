package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/logs"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/registry/registrytest"
)

func canary(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "hush-canary-" + hex.EncodeToString(b)
}

// storedImage imports a small root filesystem into a fresh hush store and
// returns the store and the image as the store serves it.
func storedImage(t *testing.T) (*image.Store, v1.Image) {
	t.Helper()
	store, err := image.OpenStore(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("hello from hush\n")
	for _, h := range []*tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/hello", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))},
	} {
		h.ModTime = time.Unix(1700000000, 0)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(&buf, "hello:latest"); err != nil {
		t.Fatal(err)
	}
	img, _, err := store.Image("hello:latest")
	if err != nil {
		t.Fatal(err)
	}
	return store, img
}

// captureClientLogs routes go-containerregistry's loggers into a buffer for
// the test (they are that library's package-level settings).
func captureClientLogs(t *testing.T) *hushtest.Buffer {
	t.Helper()
	buf := &hushtest.Buffer{}
	old := [3]*log.Logger{logs.Debug, logs.Warn, logs.Progress}
	logs.Debug, logs.Warn, logs.Progress = log.New(buf, "debug ", 0), log.New(buf, "warn ", 0), log.New(buf, "progress ", 0)
	t.Cleanup(func() { logs.Debug, logs.Warn, logs.Progress = old[0], old[1], old[2] })
	return buf
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPushPullRealRegistry(t *testing.T) {
	secret := canary(t)
	srv := registrytest.Start(t, map[string]string{"alice": secret, "helperuser": secret, "genuser": secret})
	clientLogs := captureClientLogs(t)
	store, img := storedImage(t)
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ca := WithCACerts(srv.CACert)
	cfgDir := t.TempDir()
	script, record := writeGenerator(t)
	helperPath, helperLog := helperEnv(t, secret)
	tmp, shm := t.TempDir(), hushtest.ShmDir(t) // TMPDIR of helpers and generator, generator output
	env := append(os.Environ(), helperPath[1:]...)
	env = append(env, helperPath[0]+":"+os.Getenv("PATH"), "GEN_RECORD="+record, "GEN_REGISTRY="+srv.Host,
		"GEN_AUTH="+b64("genuser:"+secret), "TMPDIR="+tmp)
	noUser := func(string) string { return "" }
	ageFile, identity := ageEncrypt(t, cfgDir, "creds.json.age", `{"auths":{"`+srv.Host+`":{"auth":"`+b64("alice:"+secret)+`"}}}`)

	tests := []struct {
		name  string
		creds Credentials
	}{
		{"trailing slash config.json key", Credentials{NoUserConfig: true,
			AuthFile: writeFile(t, cfgDir, "slash.json", `{"auths":{"https://`+srv.Host+`/":{"auth":"`+b64("alice:"+secret)+`"}}}`)}},
		{"legacy dockercfg", Credentials{NoUserConfig: true,
			AuthFile: writeFile(t, cfgDir, "legacy.dockercfg", `{"`+srv.Host+`":{"auth":"`+b64("alice:"+secret)+`","email":"a@example.com"}}`)}},
		{"age-encrypted auth file", Credentials{AuthFile: ageFile, NoUserConfig: true, Getenv: func(k string) string {
			if k == "HUSH_IDENTITY_FILE" {
				return identity
			}
			return ""
		}}},
		{"DOCKER_CONFIG auths", Credentials{Getenv: func(k string) string {
			if k == "DOCKER_CONFIG" {
				return filepath.Join(cfgDir, "docker")
			}
			return ""
		}}},
		{"credHelpers", Credentials{Env: env, Getenv: func(k string) string {
			if k == "DOCKER_CONFIG" {
				return filepath.Join(cfgDir, "helpers")
			}
			return ""
		}}},
		{"credsStore", Credentials{Env: env, Getenv: func(k string) string {
			if k == "DOCKER_CONFIG" {
				return filepath.Join(cfgDir, "store")
			}
			return ""
		}}},
		{"generator", Credentials{Generator: script + " --flag", Env: env, Getenv: noUser, GeneratorDir: shm}},
		{"credential helper as generator", Credentials{Generator: "helper:test", Env: env, Getenv: noUser}},
		{"auth file wins over the user config", Credentials{Env: env,
			AuthFile: writeFile(t, cfgDir, "good.json", `{"auths":{"`+srv.Host+`":{"auth":"`+b64("alice:"+secret)+`"}}}`),
			Getenv: func(k string) string {
				if k == "DOCKER_CONFIG" {
					return filepath.Join(cfgDir, "wrong")
				}
				return ""
			}}},
	}
	writeFile(t, cfgDir, "docker/config.json", `{"auths":{"http://`+srv.Host+`/v2/":{"auth":"`+b64("alice:"+secret)+`"}}}`)
	writeFile(t, cfgDir, "helpers/config.json", `{"credsStore":"nosuchstore","credHelpers":{"https://`+srv.Host+`/":"test"}}`)
	writeFile(t, cfgDir, "store/config.json", `{"credsStore":"test","auths":{"`+srv.Host+`":{"auth":"`+b64("alice:wrong")+`"}}}`)
	writeFile(t, cfgDir, "wrong/config.json", `{"auths":{"`+srv.Host+`":{"auth":"`+b64("alice:wrong")+`"}}}`)

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc, err := tt.creds.Keychain()
			if err != nil {
				t.Fatal(err)
			}
			ref := fmt.Sprintf("%s/hush/case%d:v1", srv.Host, i)
			if err := Push(context.Background(), img, ref, kc, ca); err != nil {
				t.Fatalf("push: %v", err)
			}
			got, err := Pull(context.Background(), ref, kc, nil, ca)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			d, err := got.Digest()
			if err != nil || d != want {
				t.Errorf("pulled digest %v (%v), pushed %v", d, err, want)
			}
			layers, err := got.Layers()
			if err != nil || len(layers) != 1 {
				t.Fatalf("pulled layers %d, %v", len(layers), err)
			}
		})
	}

	// The generator ran once per keychain, and its output is gone.
	paths := recordedPaths(t, record, 2)
	if len(paths) != 1 {
		t.Errorf("generator ran %d times, want 1", len(paths))
	}
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("generator output %s still exists after the push", p)
		}
	}

	// Every directory the test owns but cfgDir, which holds the credential files it hands in.
	hushtest.NoCanary(t, []byte(secret), store.Dir(), srv.Dir, tmp, shm, filepath.Dir(record), filepath.Dir(helperLog))
	if strings.Contains(clientLogs.String(), secret) {
		t.Error("the password is in go-containerregistry's logs")
	}
	if !strings.Contains(clientLogs.String(), srv.Host) {
		t.Error("captured no client logs; the canary check above is vacuous")
	}
	for _, l := range []string{srv.Logs()} {
		if !strings.Contains(l, "alice") {
			t.Error("registry log does not show the authenticated user; the canary check of its log is vacuous")
		}
	}
}

func TestPushRefused(t *testing.T) {
	secret, wrong := canary(t), canary(t)
	srv := registrytest.Start(t, map[string]string{"alice": secret})
	clientLogs := captureClientLogs(t)
	_, img := storedImage(t)
	dir := t.TempDir()
	authFile := writeFile(t, dir, "creds.json", `{"auths":{"`+srv.Host+`":{"auth":"`+b64("mallory-user:"+wrong)+`"}}}`)
	wrongKC, err := Credentials{AuthFile: authFile, NoUserConfig: true}.Keychain()
	if err != nil {
		t.Fatal(err)
	}
	ref := srv.Host + "/hush/refused:v1"
	tests := []struct {
		name     string
		kc       authn.Keychain
		opts     []Option
		wantText []string
		unauth   bool
	}{
		{"wrong password", wrongKC, []Option{WithCACerts(srv.CACert)},
			[]string{"pushing to " + ref, "registry " + srv.Host + " refused the credentials from --registry-auth " + authFile}, true},
		{"no credentials", nil, []Option{WithCACerts(srv.CACert)},
			[]string{"registry " + srv.Host + " wants credentials and none were found for it"}, true},
		{"untrusted CA", wrongKC, nil, []string{"pushing to " + ref, "certificate"}, false},
		{"transport and CA together", wrongKC, []Option{WithCACerts(srv.CACert), WithTransport(srv.Transport())},
			[]string{"mutually exclusive"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Push(context.Background(), img, ref, tt.kc, tt.opts...)
			if err == nil {
				t.Fatal("push succeeded")
			}
			for _, w := range tt.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if errors.Is(err, ErrUnauthorized) != tt.unauth {
				t.Errorf("errors.Is(err, ErrUnauthorized) = %v, want %v", !tt.unauth, tt.unauth)
			}
			for _, s := range []string{wrong, "mallory-user"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a credential", err)
				}
			}
		})
	}
	for _, s := range []string{wrong, secret} {
		hushtest.NoCanary(t, []byte(s), srv.Dir)
		if strings.Contains(clientLogs.String(), s) {
			t.Error("a password is in go-containerregistry's logs")
		}
	}
}

// ageEncrypt encrypts content with the real age CLI to a fresh identity and
// returns the encrypted file and the identity file.
func ageEncrypt(t *testing.T, dir, name, content string) (file, identity string) {
	t.Helper()
	keygen := hushtest.RequireBinary(t, "age-keygen")
	ageBin := hushtest.RequireBinary(t, "age")
	identity = filepath.Join(dir, "identity.txt")
	if out, err := exec.Command(keygen, "-o", identity).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v\n%s", err, out)
	}
	out, err := exec.Command(keygen, "-y", identity).Output()
	if err != nil {
		t.Fatalf("age-keygen -y: %v", err)
	}
	file = filepath.Join(dir, name)
	cmd := exec.Command(ageBin, "--armor", "-r", strings.TrimSpace(string(out)), "-o", file)
	cmd.Stdin = strings.NewReader(content)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("age: %v\n%s", err, out)
	}
	return file, identity
}
