package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCredentialsErrors(t *testing.T) {
	const secret = "cred-canary-55"
	dir := t.TempDir()
	ageFile, _ := ageEncrypt(t, dir, "c.json.age", `{"auths":{"r.example":{"auth":"`+b64("u:"+secret)+`"}}}`)
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noIdentity := func(k string) string {
		if k == "HUSH_IDENTITY_FILE" {
			return filepath.Join(dir, "missing-identity")
		}
		return ""
	}
	tests := []struct {
		name    string
		creds   Credentials
		wantErr string
	}{
		{"missing file", Credentials{AuthFile: filepath.Join(dir, "nope.json")}, "reading registry auth file"},
		{"broken JSON", Credentials{AuthFile: write("bad.json", `{"auths":{"r.example":{"auth":"`+secret)}, "invalid JSON"},
		{"no credentials", Credentials{AuthFile: write("empty.json", `{"psFormat":"x"}`)}, "no credentials in it"},
		{"age file without identity", Credentials{AuthFile: ageFile, Getenv: noIdentity}, "reading registry auth file"},
		{"image generator without an image runner", Credentials{Generator: "image:gen"}, "no image runner"},
		{"broken user config", Credentials{Getenv: func(k string) string {
			if k == "DOCKER_CONFIG" {
				return filepath.Dir(write("cfg/config.json", `{"auths": [`+secret))
			}
			return ""
		}}, "invalid JSON"},
	}
	if err := os.MkdirAll(filepath.Join(dir, "cfg"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.creds.Getenv == nil {
				tt.creds.Getenv = func(string) string { return "" }
			}
			_, err := tt.creds.Keychain()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the secret: %q", err)
			}
		})
	}
}
