package audit

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestDetect(t *testing.T) {
	// Made-up credentials in each format; none is real.
	fakeJWT := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	cases := []struct {
		name, content string
		path          string // file name, default "f"
		rule          string // "" means no finding
	}{
		{name: "rsa key", content: "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIE...", rule: "private-key"},
		{name: "openssh key", content: "-----BEGIN OPENSSH PRIVATE KEY-----\n", rule: "private-key"},
		{name: "public key is fine", content: "-----BEGIN PUBLIC KEY-----\n"},
		{name: "aws key id", content: "id=AKIAIOSFODNN7EXAMPL3 ", rule: "aws-access-key-id"},
		{name: "aws key id inside a word", content: "XAKIAIOSFODNN7EXAMPL3 "},
		{name: "aws key id too short", content: "AKIAIOSFODNN7EXAMP"},
		{name: "github token", content: "ghp_" + strings.Repeat("a1B2", 9), rule: "github-token"},
		{name: "github fine-grained", content: "github_pat_" + strings.Repeat("x", 82), rule: "github-fine-grained-token"},
		{name: "gitlab token", content: "glpat-" + strings.Repeat("Ab3_", 5), rule: "gitlab-token"},
		{name: "slack bot token", content: "xoxb-1234567890-abcdefghij", rule: "slack-token"},
		{name: "slack webhook", content: "https://hooks.slack.com/services/T0000/B0000/" + strings.Repeat("x", 24), rule: "slack-webhook"},
		{name: "npm token", content: "npm_" + strings.Repeat("Z9", 18), rule: "npm-token"},
		{name: "pypi token", content: "pypi-AgEIcHlwaS5vcmc" + strings.Repeat("q", 60), rule: "pypi-token"},
		{name: "jwt", content: "Authorization: Bearer " + fakeJWT, rule: "jwt"},
		{name: "docker auth", content: `{"auths":{"r.io":{"auth":"dXNlcjpwYXNz"}}}`, rule: "docker-config-auth"},
		{name: "empty docker auth", content: `{"auths":{"r.io":{"auth":""}}}`},
		{name: "npmrc token", path: "root/.npmrc", content: "//registry.npmjs.org/:_authToken=abc\n", rule: "npmrc-token"},
		{name: "npmrc without token", path: "root/.npmrc", content: "registry=https://r.example\n"},
		{name: "netrc", path: "home/u/.netrc", content: "machine h login u password p\n", rule: "netrc-credentials"},
		{name: "git credentials", path: "root/.git-credentials", content: "https://u:tok@github.com\n", rule: "git-credentials"},
		{name: "aws credentials", path: "root/.aws/credentials", content: "[default]\naws_secret_access_key = x\n", rule: "aws-credentials-file"},
		{name: "docker config file", path: "root/.docker/config.json", content: `{"auths":{"r":{"identitytoken":"t"}}}`, rule: "docker-config-file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path
			if p == "" {
				p = "f"
			}
			img := imageOf(t, nil, layerOf(t, "gzip", file{name: p, content: []byte(tc.content)}))
			r := scan(t, img, nil, Options{Detect: true})
			var rules []string
			for _, f := range r.Findings {
				rules = append(rules, f.Rule)
				if f.Secret != "" || f.Encoding != "" || !strings.HasPrefix(f.Fingerprint, "hmac-sha256:") {
					t.Errorf("detect finding %+v", f)
				}
				if f.Location.Path != "/"+p {
					t.Errorf("path %q, want /%s", f.Location.Path, p)
				}
			}
			if tc.rule == "" && len(rules) != 0 {
				t.Errorf("want no finding, got %v", rules)
			}
			if tc.rule != "" && !contains(rules, tc.rule) {
				t.Errorf("want rule %s, got %v", tc.rule, rules)
			}
		})
	}
}

func TestDetectInConfig(t *testing.T) {
	img := imageOf(t, func(c *v1.ConfigFile) {
		c.Config.Env = []string{"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPL3"}
	}, layerOf(t, "none", file{name: "a", content: []byte("x")}))
	r := scan(t, img, nil, Options{Detect: true})
	if len(r.Findings) != 1 || r.Findings[0].Location.Field != "config.Env[0]" || r.Findings[0].Location.Offset != 18 {
		t.Fatalf("findings %+v", r.Findings)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
