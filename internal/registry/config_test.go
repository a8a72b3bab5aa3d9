package registry

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// parsed is what a docker config gives a keychain: credentials and helper names by
// normalized key.
type parsed struct {
	Auths       map[string]types.AuthConfig
	CredsStore  string
	CredHelpers map[string]string
}

func summarize(cf *configfile.ConfigFile) parsed {
	p := parsed{Auths: map[string]types.AuthConfig{}, CredsStore: cf.CredentialsStore, CredHelpers: cf.CredentialHelpers}
	for k, a := range cf.AuthConfigs {
		a.ServerAddress = "" // the key as written; lookups go by the normalized map key
		p.Auths[k] = a
	}
	return p
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want parsed
	}{
		{
			name: "config.json auths with trailing slash and scheme",
			in:   `{"auths":{"https://reg.example.com/":{"auth":"` + b64("alice:pw:with:colons") + `"}}}`,
			want: parsed{Auths: map[string]types.AuthConfig{"reg.example.com": {Username: "alice", Password: "pw:with:colons"}}, CredHelpers: map[string]string{}},
		},
		{
			name: "legacy dockercfg",
			in:   `{"https://reg.example.com":{"auth":"` + b64("bob:secret") + `","email":"bob@example.com"}, "quay.io": {"auth": "` + b64("q:r") + `", "email": ""}}`,
			want: parsed{Auths: map[string]types.AuthConfig{"reg.example.com": {Username: "bob", Password: "secret"}, "quay.io": {Username: "q", Password: "r"}}, CredHelpers: map[string]string{}},
		},
		{
			name: "docker hub aliases, tokens, helpers",
			in: `{"auths":{"docker.io":{"identitytoken":"idtok"},"reg.example.com":{"registrytoken":"regtok"},
				"u.example.com":{"username":"u","password":"p"}},
				"credsStore":"desktop","credHelpers":{"https://gcr.io/":"gcloud","Registry-1.Docker.io":"hub"}}`,
			want: parsed{
				Auths: map[string]types.AuthConfig{
					DockerHubKey:      {IdentityToken: "idtok"},
					"reg.example.com": {RegistryToken: "regtok"},
					"u.example.com":   {Username: "u", Password: "p"},
				},
				CredsStore:  "desktop",
				CredHelpers: map[string]string{"gcr.io": "gcloud", DockerHubKey: "hub"},
			},
		},
		{
			name: "canonical key wins over an alias",
			in:   `{"auths":{"https://reg.example.com/":{"auth":"` + b64("old:x") + `"},"reg.example.com":{"auth":"` + b64("new:y") + `"}}}`,
			want: parsed{Auths: map[string]types.AuthConfig{"reg.example.com": {Username: "new", Password: "y"}}, CredHelpers: map[string]string{}},
		},
		{
			name: "auth wins over username and password",
			in:   `{"auths":{"r.example":{"auth":"` + b64("a:b") + `","username":"c","password":"d"}}}`,
			want: parsed{Auths: map[string]types.AuthConfig{"r.example": {Username: "a", Password: "b"}}, CredHelpers: map[string]string{}},
		},
		{
			name: "empty object",
			in:   `{}`,
			want: parsed{Auths: map[string]types.AuthConfig{}, CredHelpers: map[string]string{}},
		},
		{
			name: "other docker settings only",
			in:   `{"psFormat":"table {{.ID}}","detachKeys":"ctrl-x"}`,
			want: parsed{Auths: map[string]types.AuthConfig{}, CredHelpers: map[string]string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(summarize(got), tt.want) {
				t.Errorf("got %+v\nwant %+v", summarize(got), tt.want)
			}
			if got.Filename != "" {
				t.Errorf("parsed config has file name %q: Save would write it", got.Filename)
			}
			if err := got.Save(); err == nil {
				t.Error("a config parsed from memory could be saved")
			}
		})
	}
}

func TestParseConfigErrorsHideContent(t *testing.T) {
	const secret = "Zsup3rsecretZ"
	tests := []struct{ name, in, wantErr string }{
		{"syntax error", `{"auths":{"r":{"auth":"x"}}` + secret, "invalid JSON at byte"},
		{"bad base64", `{"auths":{"r.example":{"auth":"` + secret + `!!"}}}`, `parsing docker config: an auths entry's "auth" is not base64: illegal data at byte`},
		{"no colon", `{"auths":{"r.example":{"auth":"` + b64(secret) + `"}}}`, "not base64 of user:password"},
		{"truncated", `{"auths":{"r.example":{"auth":"` + secret, "invalid JSON"},
		{"wrong type", `{"auths":{"r.example":{"auth":12}},"x":"` + secret + `"}`, "unexpected JSON number"},
		{"not an object", `"` + secret + `"`, "unexpected JSON string"},
		{"null", `null`, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig([]byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "Z") {
				t.Errorf("error quotes the input: %q", err)
			}
		})
	}
}

func TestLoadUserConfig(t *testing.T) {
	home := t.TempDir()
	dockerDir := filepath.Join(home, ".docker")
	custom := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, ".dockercfg"), `{"legacy.example":{"auth":"`+b64("l:l")+`","email":""}}`)
	write(filepath.Join(custom, "config.json"), `{"auths":{"custom.example/":{"auth":"`+b64("c:c")+`"}}}`)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	tests := []struct {
		name    string
		env     map[string]string
		setup   func()
		wantKey string
	}{
		{"legacy dockercfg when config.json is missing", map[string]string{"HOME": home}, nil, "legacy.example"},
		{"DOCKER_CONFIG", map[string]string{"HOME": home, "DOCKER_CONFIG": custom}, nil, "custom.example"},
		{"config.json wins over legacy", map[string]string{"HOME": home}, func() {
			write(filepath.Join(dockerDir, "config.json"), `{"auths":{"home.example":{"auth":"`+b64("h:h")+`"}}}`)
		}, "home.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			c, err := loadUserConfig(env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.AuthConfigs) != 1 || !hasCredentials(c.AuthConfigs[tt.wantKey]) {
				t.Errorf("auths = %v, want only %s", keys(c.AuthConfigs), tt.wantKey)
			}
		})
	}

	t.Run("missing everywhere is empty", func(t *testing.T) {
		c, err := loadUserConfig(env(map[string]string{"DOCKER_CONFIG": t.TempDir()}))
		if err != nil || c.ContainsAuth() {
			t.Errorf("got %+v, %v; want empty config", c, err)
		}
	})
	t.Run("broken config names the file", func(t *testing.T) {
		bad := t.TempDir()
		write(filepath.Join(bad, "config.json"), `{"auths":`)
		_, err := loadUserConfig(env(map[string]string{"DOCKER_CONFIG": bad}))
		if err == nil || !strings.Contains(err.Error(), filepath.Join(bad, "config.json")) {
			t.Errorf("error = %v, want one naming the file", err)
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
