package gitsource

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
)

func TestAuthSecretNames(t *testing.T) {
	tests := []struct {
		remote string
		want   []AuthSecret
	}{
		{"https://github.com/org/repo.git", []AuthSecret{
			{ID: "GIT_AUTH_HEADER.github.com"}, {ID: "GIT_AUTH_TOKEN.github.com", Token: true},
			{ID: "GIT_AUTH_HEADER"}, {ID: "GIT_AUTH_TOKEN", Token: true}}},
		{"https://git.example.com:8443/org/repo.git", []AuthSecret{
			{ID: "GIT_AUTH_HEADER.git.example.com:8443"}, {ID: "GIT_AUTH_TOKEN.git.example.com:8443", Token: true},
			{ID: "GIT_AUTH_HEADER"}, {ID: "GIT_AUTH_TOKEN", Token: true}}},
		{"git@gitlab.com:org/repo.git", []AuthSecret{
			{ID: "GIT_AUTH_HEADER.gitlab.com"}, {ID: "GIT_AUTH_TOKEN.gitlab.com", Token: true},
			{ID: "GIT_AUTH_HEADER"}, {ID: "GIT_AUTH_TOKEN", Token: true}}},
		{"", []AuthSecret{{ID: "GIT_AUTH_HEADER"}, {ID: "GIT_AUTH_TOKEN", Token: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.remote, func(t *testing.T) {
			if got := AuthSecretNames(tt.remote); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AuthSecretNames(%q) = %+v, want %+v", tt.remote, got, tt.want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	gitlab := "basic " + base64.StdEncoding.EncodeToString([]byte("gitlab-ci-token:glcbt-abc"))
	tests := []struct {
		name  string
		s     AuthSecret
		value string
		want  string
	}{
		{"token", AuthSecret{ID: "GIT_AUTH_TOKEN", Token: true}, "ghp_abc",
			"basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:ghp_abc"))},
		{"token with trailing newline", AuthSecret{ID: "GIT_AUTH_TOKEN", Token: true}, "ghp_abc\n",
			"basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:ghp_abc"))},
		{"header verbatim (GitLab CI_JOB_TOKEN)", AuthSecret{ID: "GIT_AUTH_HEADER"}, gitlab, gitlab},
		{"bearer header", AuthSecret{ID: "GIT_AUTH_HEADER.host"}, "Bearer xyz\r\n", "Bearer xyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Header(tt.s, []byte(tt.value)); got != tt.want {
				t.Errorf("Header = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTokenScope(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"https://github.com/org/repo.git", "https://github.com/"},
		{"https://www.github.com/org/repo.git", "https://www.github.com/"},
		{"https://git.example.com/org/repo.git", "https://git.example.com/org/repo.git"},
		{"https://user@git.example.com/org/repo.git", "https://git.example.com/org/repo.git"},
		{"https://github.com.evil.example/x.git", "https://github.com.evil.example/x.git"},
	}
	for _, tt := range tests {
		if got := tokenScope(tt.remote); got != tt.want {
			t.Errorf("tokenScope(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

// TestRunnerEnv checks that only commands talking to the remote get the credential, and
// only through GIT_CONFIG_* scoped to the remote.
func TestRunnerEnv(t *testing.T) {
	header := Header(AuthSecret{Token: true}, []byte("tok-123456"))
	ref := Ref{Remote: "https://git.example.com/org/repo.git"}
	g := newRunner("git", "/r", "/h", "/tpl", ref, Options{AuthHeader: header}, nil, nil)
	for _, e := range g.baseEnv {
		if strings.Contains(e, header) {
			t.Errorf("base env holds the header: %q", e)
		}
	}
	want := []string{
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http.https://git.example.com/org/repo.git.extraheader",
		"GIT_CONFIG_VALUE_0=Authorization: " + header,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0", "HOME=/h",
		"TMPDIR=/h", // git's temporary files stay in the fetch's scratch area
	}
	for _, w := range want {
		if !contains(g.remoteEnv, w) {
			t.Errorf("remote env lacks %q: %q", w, g.remoteEnv)
		}
	}

	ssh := newRunner("git", "/r", "/h", "/tpl", Ref{Remote: "git@h:o/r.git"},
		Options{AuthHeader: header, SSHAuthSock: "/s/agent", KnownHosts: "/k/it's known"}, nil, nil)
	joined := strings.Join(ssh.remoteEnv, "\n")
	if strings.Contains(joined, header) {
		t.Errorf("ssh remote env holds the http header")
	}
	for _, w := range []string{"SSH_AUTH_SOCK=/s/agent", "StrictHostKeyChecking=yes", "BatchMode=yes",
		`UserKnownHostsFile='/k/it'\''s known'`, "GlobalKnownHostsFile=/dev/null", "-F /dev/null"} {
		if !strings.Contains(joined, w) {
			t.Errorf("ssh env lacks %q:\n%s", w, joined)
		}
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestRedactor(t *testing.T) {
	header := Header(AuthSecret{Token: true}, []byte("tok-SECRET-42"))
	var out bytes.Buffer
	r := &redactor{w: &out, secrets: secretsOf(header)}
	msg := "remote: Authorization: " + header + "\nraw tok-SECRET-42 and x-access-token:tok-SECRET-42\rprogress 50%\r"
	// Write in 3-byte pieces so every secret straddles writes.
	for i := 0; i < len(msg); i += 3 {
		end := min(i+3, len(msg))
		if _, err := r.Write([]byte(msg[i:end])); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Write([]byte("tail tok-SECRET-42")); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, s := range []string{"tok-SECRET-42", header, strings.TrimPrefix(header, "basic ")} {
		if strings.Contains(got, s) {
			t.Errorf("redacted output still holds %q: %q", s, got)
		}
	}
	if !strings.Contains(got, "progress 50%") || strings.Count(got, "[REDACTED]") < 4 {
		t.Errorf("redacted output lost text: %q", got)
	}
}
