package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hush-build/hush/internal/secret"
)

// helperEnv returns an environment whose PATH holds testdata's
// docker-credential-test, and the file it logs its calls to.
func helperEnv(t *testing.T, secret string) ([]string, string) {
	t.Helper()
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "calls")
	return []string{"PATH=" + td + ":/usr/bin:/bin", "HELPER_LOG=" + log, "HELPER_SECRET=" + secret}, log
}

func authFor(t *testing.T, kc authn.Keychain, ref string) (*authn.AuthConfig, error) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.Resolve(context.Background(), kc, r.Context())
	if err != nil {
		return nil, err
	}
	if a == authn.Anonymous {
		return nil, nil
	}
	return authn.Authorization(context.Background(), a)
}

func TestKeychainResolve(t *testing.T) {
	const secret = "kc-canary-7d1e"
	env, _ := helperEnv(t, secret)
	cfg, err := parseConfig([]byte(`{
		"auths": {
			"https://trailing.example.com/": {"auth": "` + b64("tuser:"+secret) + `"},
			"https://index.docker.io/v1/": {"auth": "` + b64("hubuser:"+secret) + `"},
			"tok.example.com": {"identitytoken": "` + secret + `"},
			"helped.example.com": {"auth": "` + b64("fileuser:"+secret) + `"}
		},
		"credHelpers": {"reg.example.com/": "test", "helped.example.com": "test", "missing.example": "nosuchhelper"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	kc := &Keychain{Config: cfg, Source: "test config", Env: env}
	tests := []struct {
		ref      string
		want     *authn.AuthConfig
		wantErr  string
		anything bool
	}{
		{ref: "trailing.example.com/app:1", want: &authn.AuthConfig{Username: "tuser", Password: secret}},
		{ref: "TRAILING.example.com/app", want: &authn.AuthConfig{Username: "tuser", Password: secret}},
		{ref: "busybox", want: &authn.AuthConfig{Username: "hubuser", Password: secret}},
		{ref: "index.docker.io/library/busybox", want: &authn.AuthConfig{Username: "hubuser", Password: secret}},
		{ref: "registry-1.docker.io/library/busybox", want: &authn.AuthConfig{Username: "hubuser", Password: secret}},
		{ref: "tok.example.com/x", want: &authn.AuthConfig{IdentityToken: secret}},
		{ref: "reg.example.com/x", want: &authn.AuthConfig{Username: "helperuser", Password: secret}},
		// The helper does not know it: docker falls back to the auths entry.
		{ref: "helped.example.com/x", want: &authn.AuthConfig{Username: "fileuser", Password: secret}},
		{ref: "other.example.com/x", want: nil},
		{ref: "missing.example/x", wantErr: "getting credentials for missing.example from test config: running docker-credential-nosuchhelper for missing.example: docker-credential-nosuchhelper: credential helper not found on PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := authFor(t, kc, tt.ref)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrHelperNotFound) {
					t.Errorf("error does not wrap ErrHelperNotFound")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestKeychainNormalizedKeys: however a config spells a registry (scheme, trailing slash,
// path, case, docker.io's aliases), the auths entry and the credHelpers entry serve image
// references on that registry, and no other.
func TestKeychainNormalizedKeys(t *testing.T) {
	const canary = "norm-canary-3f9c"
	env, log := helperEnv(t, canary)
	tests := []struct {
		key, ref, helperAsked string
	}{
		{"reg.example.com", "reg.example.com/app:1", "reg.example.com"},
		{"reg.example.com/", "reg.example.com/app", "reg.example.com"},
		{"https://reg.example.com/", "reg.example.com/app", "reg.example.com"},
		{"https://reg.example.com", "reg.example.com/team/app@sha256:" + strings.Repeat("a", 64), "reg.example.com"},
		{"http://reg.example.com/v2/", "reg.example.com/app", "reg.example.com"},
		{"HTTPS://Reg.Example.COM/", "reg.example.com/app", "reg.example.com"},
		{"https://127.0.0.1:5000/", "127.0.0.1:5000/app", "127.0.0.1:5000"},
		{"https://index.docker.io/v1/", "busybox", DockerHubKey},
		{"docker.io", "library/busybox:latest", DockerHubKey},
		{"index.docker.io", "docker.io/library/busybox", DockerHubKey},
		{"https://registry-1.docker.io/", "index.docker.io/library/busybox", DockerHubKey},
		{"registry.hub.docker.com", "busybox", DockerHubKey},
	}
	for _, tt := range tests {
		t.Run(tt.key+" serves "+tt.ref, func(t *testing.T) {
			auths, err := parseConfig([]byte(`{"auths":{"` + tt.key + `":{"auth":"` + b64("fileuser:"+canary) + `"}}}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := authFor(t, &Keychain{Config: auths}, tt.ref)
			if err != nil || got == nil || *got != (authn.AuthConfig{Username: "fileuser", Password: canary}) {
				t.Errorf("auths %q for %s: got %+v, %v", tt.key, tt.ref, got, err)
			}
			if other, err := authFor(t, &Keychain{Config: auths}, "other.example.com/app"); err != nil || other != nil {
				t.Errorf("auths %q serve other.example.com: %+v, %v", tt.key, other, err)
			}

			helpers, err := parseConfig([]byte(`{"credHelpers":{"` + tt.key + `":"test"}}`))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(log, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			if _, err := authFor(t, &Keychain{Config: helpers, Env: env}, tt.ref); err != nil {
				t.Fatal(err)
			}
			calls, _ := os.ReadFile(log)
			if string(calls) != "get "+tt.helperAsked+"\n" {
				t.Errorf("credHelpers %q for %s asked the helper %q, want %q", tt.key, tt.ref, calls, "get "+tt.helperAsked+"\n")
			}
		})
	}
}

func TestHelperProtocol(t *testing.T) {
	const canary = "helper-canary-91ab"
	env, log := helperEnv(t, canary)
	var stderr bytes.Buffer
	h := helper{name: "test", env: env, stderr: &stderr}
	tests := []struct {
		server    string
		want      types.AuthConfig
		wantFound bool
		wantErr   string
	}{
		{server: "reg.example.com", want: types.AuthConfig{Username: "helperuser", Password: canary}, wantFound: true},
		{server: DockerHubKey, want: types.AuthConfig{IdentityToken: canary}, wantFound: true},
		{server: "chatty.example", want: types.AuthConfig{Username: "chattyuser", Password: canary}, wantFound: true},
		{server: "unknown.example"},
		{server: "broken.example", wantErr: "running docker-credential-test get for broken.example: exit status 2"},
		{server: "garbage.example", wantErr: "reading docker-credential-test answer for garbage.example: invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			got, found, err := h.get(context.Background(), tt.server)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want prefix %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), canary) {
					t.Errorf("error leaks the helper's output: %q", err)
				}
				return
			}
			if err != nil || got != tt.want || found != tt.wantFound {
				t.Errorf("get = %+v, %v, %v; want %+v, %v", got, found, err, tt.want, tt.wantFound)
			}
		})
	}
	if !strings.Contains(stderr.String(), "helper diagnostics") {
		t.Errorf("helper stderr not passed on: %q", stderr.String())
	}
	// The chatty helper prints the secret it hands out on stderr: hush shows the line, masked.
	if !strings.Contains(stderr.String(), "fetched "+secret.Mask+" for chatty.example\n") {
		t.Errorf("chatty helper's stderr not passed on masked: %q", stderr.String())
	}
	if strings.Contains(stderr.String(), canary) {
		t.Errorf("helper stderr shows the secret it handed out: %q", stderr.String())
	}
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(calls), "get https://index.docker.io/v1/\n") {
		t.Errorf("helper was not asked with docker's hub key:\n%s", calls)
	}
	if _, _, err := (helper{name: "../evil", env: env}).get(context.Background(), "x"); err == nil {
		t.Error("helper name with a slash accepted")
	}
}

func TestKeychainCachesHelperAnswers(t *testing.T) {
	env, log := helperEnv(t, "cache-canary")
	kc := &Keychain{Config: &configfile.ConfigFile{CredentialsStore: "test"}, Env: env}
	for range 3 {
		if a, err := authFor(t, kc, "reg.example.com/app"); err != nil || a == nil {
			t.Fatalf("resolve = %v, %v", a, err)
		}
		if a, err := authFor(t, kc, "unknown.example/app"); err != nil || a != nil {
			t.Fatalf("resolve unknown = %v, %v", a, err)
		}
	}
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(calls), "\n"); n != 2 {
		t.Errorf("helper ran %d times, want 2 (one per registry):\n%s", n, calls)
	}
}

func TestAuthenticatorHidesCredentials(t *testing.T) {
	a := newAuthenticator(types.AuthConfig{Username: "u", Password: "fmt-canary"}, "--registry-auth x.json")
	for _, s := range []string{fmt.Sprintf("%v", a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a)} {
		if strings.Contains(s, "fmt-canary") {
			t.Errorf("formatting shows the password: %s", s)
		}
	}
	if got := sourceOf(a); got != "--registry-auth x.json" {
		t.Errorf("sourceOf = %q", got)
	}
}
