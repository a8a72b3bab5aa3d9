package gitsource

import (
	"encoding/base64"
	"strings"
)

// The secret ids BuildKit reads for Git authentication; a ".<host>" suffix scopes one to a host.
const (
	AuthHeaderSecret = "GIT_AUTH_HEADER"
	AuthTokenSecret  = "GIT_AUTH_TOKEN"
)

// AuthSecret is one secret id to look up for a remote's credentials.
type AuthSecret struct {
	// ID is the secret id, e.g. "GIT_AUTH_TOKEN.github.com".
	ID string
	// Token is true when the value is a bare token rather than a full header value.
	Token bool
}

// AuthSecretNames returns the secret ids to try for remote, in BuildKit's order:
// GIT_AUTH_HEADER.<host>, GIT_AUTH_TOKEN.<host>, GIT_AUTH_HEADER, GIT_AUTH_TOKEN.
// The first one present wins. Without a host only the global two are returned.
func AuthSecretNames(remote string) []AuthSecret {
	var out []AuthSecret
	if host := hostOf(remote); host != "" {
		out = append(out,
			AuthSecret{ID: AuthHeaderSecret + "." + host},
			AuthSecret{ID: AuthTokenSecret + "." + host, Token: true})
	}
	return append(out,
		AuthSecret{ID: AuthHeaderSecret},
		AuthSecret{ID: AuthTokenSecret, Token: true})
}

// Header formats the Authorization header value for a found secret: a token becomes
// "basic base64(x-access-token:<token>)", a header secret is used verbatim. Trailing
// line breaks (from `echo token > file`) are dropped; a header can never span lines.
func Header(s AuthSecret, value []byte) string {
	v := strings.TrimRight(string(value), "\r\n")
	if s.Token {
		return "basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+v))
	}
	return v
}

// tokenScope is the URL prefix the header is sent to: the remote itself (without
// userinfo), or all of github.com for a github.com remote, as BuildKit does.
func tokenScope(remote string) string {
	for _, pfx := range []string{"https://github.com/", "https://www.github.com/"} {
		if strings.HasPrefix(remote, pfx) {
			return pfx
		}
	}
	return Redact(remote)
}

// secretsOf lists the strings that must never leave the process: the header value, its
// credential part and, for basic credentials, the decoded user:password and password.
func secretsOf(header string) []string {
	if header == "" {
		return nil
	}
	out := []string{header}
	_, cred, ok := strings.Cut(header, " ")
	if !ok {
		return out
	}
	cred = strings.TrimSpace(cred)
	if len(cred) >= 4 {
		out = append(out, cred)
	}
	if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
		out = append(out, string(dec))
		if _, pw, ok := strings.Cut(string(dec), ":"); ok && len(pw) >= 4 {
			out = append(out, pw)
		}
	}
	return out
}
