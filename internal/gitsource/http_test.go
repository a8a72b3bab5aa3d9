package gitsource

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

const (
	goodToken = "tok-GOOD-5f3a9c2e71d8"
	badToken  = "tok-BAD-0b1e2d3c4a59"
)

// gitHTTPServer serves root through the real git-http-backend and answers 401 unless
// the request carries Authorization: basic base64(x-access-token:goodToken).
type gitHTTPServer struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string // Authorization headers of accepted requests
}

func newGitHTTPServer(t *testing.T, root string) *gitHTTPServer {
	t.Helper()
	const backend = "/usr/lib/git-core/git-http-backend"
	_, err := os.Stat(backend)
	hushtest.Require(t, err == nil, "needs git-http-backend (Debian package git): "+backend)
	want := "basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+goodToken))
	cgiHandler := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	}
	s := &gitHTTPServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		cgiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// headerFrom resolves credentials the way hush's caller does: the first secret present wins.
func headerFrom(remote string, secrets map[string]string) string {
	for _, s := range AuthSecretNames(remote) {
		if v, ok := secrets[s.ID]; ok {
			return Header(s, []byte(v))
		}
	}
	return ""
}

func TestFetchHTTPCases(t *testing.T) {
	root := t.TempDir()
	f := newFixture(t, root)
	srv := newGitHTTPServer(t, root)
	argvLog := installArgvLogger(t)
	base := srv.URL + "/repo.git"
	host := strings.TrimPrefix(srv.URL, "http://")
	good := map[string]string{"GIT_AUTH_TOKEN": goodToken}
	goodHeader := "basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+goodToken))

	tests := []struct {
		name       string
		src        string
		keep       bool
		secrets    map[string]string
		wantErr    error
		wantErrSub string
		wantCommit string
		files      map[string]string // path → content; "" content means "must not exist"
	}{
		{name: "token default HEAD", src: base, secrets: good, wantCommit: f.c2,
			files: map[string]string{"a.txt": "v2\n", "sub/b.txt": "in sub\n", ".git": "", "feature.txt": ""}},
		{name: "no secret", src: base + "#main", secrets: nil, wantErr: ErrAuth},
		{name: "wrong token", src: base + "#main", secrets: map[string]string{"GIT_AUTH_TOKEN": badToken}, wantErr: ErrAuth},
		{name: "header verbatim", src: base + "#main", secrets: map[string]string{"GIT_AUTH_HEADER": goodHeader},
			wantCommit: f.c2},
		{name: "per-host token beats global", src: base + "#main",
			secrets:    map[string]string{"GIT_AUTH_TOKEN." + host: goodToken, "GIT_AUTH_TOKEN": badToken},
			wantCommit: f.c2},
		{name: "per-host header beats per-host token", src: base + "#main",
			secrets: map[string]string{"GIT_AUTH_HEADER." + host: "basic " + base64.StdEncoding.EncodeToString([]byte("x:"+badToken)),
				"GIT_AUTH_TOKEN." + host: goodToken},
			wantErr: ErrAuth},
		{name: "global header beats global token", src: base + "#main",
			secrets: map[string]string{"GIT_AUTH_HEADER": goodHeader, "GIT_AUTH_TOKEN": badToken}, wantCommit: f.c2},
		{name: "annotated tag", src: base + "#v1", secrets: good, wantCommit: f.c1,
			files: map[string]string{"a.txt": "v1\n", "feature.txt": ""}},
		{name: "tag query", src: base + "?tag=v1", secrets: good, wantCommit: f.c1},
		{name: "branch", src: base + "#feature", secrets: good, wantCommit: f.c3,
			files: map[string]string{"feature.txt": "feature\n", "a.txt": "v1\n"}},
		{name: "branch query full ref", src: base + "?branch=feature", secrets: good, wantCommit: f.c3},
		{name: "full commit sha not a tip", src: base + "#" + f.c1, secrets: good, wantCommit: f.c1,
			files: map[string]string{"a.txt": "v1\n"}},
		{name: "abbreviated sha", src: base + "#" + f.c1[:10], secrets: good, wantCommit: f.c1},
		{name: "subdir", src: base + "#main:sub", secrets: good, wantCommit: f.c2,
			files: map[string]string{"b.txt": "in sub\n", "a.txt": "", ".git": ""}},
		{name: "subdir query", src: base + "?ref=v1&subdir=/sub", secrets: good, wantCommit: f.c1,
			files: map[string]string{"b.txt": "in sub\n", "a.txt": ""}},
		{name: "keep git dir", src: base + "#main", keep: true, secrets: good, wantCommit: f.c2,
			files: map[string]string{"a.txt": "v2\n"}},
		{name: "keep git dir query", src: base + "?keep-git-dir=true#v1", secrets: good, wantCommit: f.c1},
		{name: "missing branch", src: base + "#nope", secrets: good, wantErr: ErrRefNotFound},
		{name: "missing subdir", src: base + "#main:nope", secrets: good, wantErrSub: `subdir "nope": not found`},
		{name: "checksum mismatch", src: base + "?checksum=" + f.c1 + "#main", secrets: good, wantErrSub: "checking commit"},
		{name: "checksum match", src: base + "?checksum=" + f.c2[:12] + "#main", secrets: good, wantCommit: f.c2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, ok, err := Parse(tt.src)
			if err != nil || !ok {
				t.Fatalf("Parse(%q) = ok %v, err %v", tt.src, ok, err)
			}
			ref.KeepGitDir = ref.KeepGitDir || tt.keep
			parent := t.TempDir()
			dest := filepath.Join(parent, "out")
			var progress bytes.Buffer
			opts := Options{AuthHeader: headerFrom(ref.Remote, tt.secrets), Stderr: &progress}

			if err := os.Truncate(argvLog, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			mon := startArgvMonitor()
			commit, err := Fetch(context.Background(), ref, dest, opts)
			argvs := mon.Stop()
			logged, _ := os.ReadFile(argvLog)

			canaries := []string{goodToken, badToken}
			for _, v := range tt.secrets {
				canaries = append(canaries, v)
			}
			errText := ""
			if err != nil {
				errText = err.Error()
			}
			assertNoLeak(t, "process argv (/proc)", argvs, canaries...)
			assertNoLeak(t, "git argv (wrapper log)", []string{string(logged)}, canaries...)
			assertNoLeak(t, "error text", []string{errText}, canaries...)
			assertNoLeak(t, "progress output", []string{progress.String()}, canaries...)
			for _, c := range canaries {
				hushtest.NoCanary(t, []byte(c), parent)
			}
			if !strings.Contains(string(logged), " fetch ") {
				t.Errorf("argv logger saw no git fetch; log:\n%s", logged)
			}
			if entries, _ := os.ReadDir(parent); len(entries) > 1 || (len(entries) == 1 && entries[0].Name() != "out") {
				t.Errorf("scratch left behind in %s: %v", parent, entries)
			}

			if tt.wantErr != nil || tt.wantErrSub != "" {
				if err == nil {
					t.Fatalf("Fetch succeeded with commit %s, want error", commit)
				}
				t.Logf("error (as the user sees it): %v", err)
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("Fetch error = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(errText, tt.wantErrSub) || !strings.Contains(errText, base) {
					t.Errorf("Fetch error = %q, want it to contain %q and the remote", errText, tt.wantErrSub)
				}
				if _, serr := os.Lstat(dest); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("dest exists after a failed fetch: %v", serr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v\nprogress:\n%s", err, progress.String())
			}
			if commit != tt.wantCommit {
				t.Errorf("commit = %s, want %s", commit, tt.wantCommit)
			}
			for name, want := range tt.files {
				got, rerr := os.ReadFile(filepath.Join(dest, name))
				if want == "" {
					if _, serr := os.Lstat(filepath.Join(dest, name)); !errors.Is(serr, os.ErrNotExist) {
						t.Errorf("%s exists, want it absent", name)
					}
					continue
				}
				if rerr != nil || string(got) != want {
					t.Errorf("%s = %q (%v), want %q", name, got, rerr, want)
				}
			}
			_, gitErr := os.Stat(filepath.Join(dest, ".git"))
			if wantGit := ref.KeepGitDir && ref.Subdir == ""; wantGit != (gitErr == nil) {
				t.Errorf(".git present = %v, want %v", gitErr == nil, wantGit)
			}
			if gitErr == nil {
				head := fixtureGit(t, dest, "rev-parse", "HEAD")
				if head != commit {
					t.Errorf("kept .git HEAD = %s, want %s", head, commit)
				}
				cfg, _ := os.ReadFile(filepath.Join(dest, ".git", "config"))
				if strings.Contains(strings.ToLower(string(cfg)), "extraheader") || !strings.Contains(string(cfg), base) {
					t.Errorf(".git/config should name the remote and hold no header:\n%s", cfg)
				}
			}
		})
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.auth) == 0 {
		t.Error("server never accepted an authenticated request")
	}
}

// TestFetchRefusesCleartextCredentials checks that a header is never sent over plain http
// to a non-loopback host, before any network access.
func TestFetchRefusesCleartextCredentials(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "out")
	header := Header(AuthSecret{ID: AuthTokenSecret, Token: true}, []byte(goodToken))
	_, err := Fetch(context.Background(), Ref{Remote: "http://git.example.invalid/r.git"}, dest, Options{AuthHeader: header})
	if err == nil || !strings.Contains(err.Error(), "unencrypted http") {
		t.Fatalf("Fetch error = %v, want a refusal to send credentials over http", err)
	}
	assertNoLeak(t, "error text", []string{err.Error()}, goodToken, header)
}

func TestFetchRejectsBadInput(t *testing.T) {
	hushtest.RequireBinary(t, "git")
	tests := []struct {
		name string
		ref  Ref
		opts Options
		want string
	}{
		{"password in url", Ref{Remote: "https://u:" + goodToken + "@h.invalid/r.git"}, Options{}, "credentials in the remote URL"},
		{"option-like ref", Ref{Remote: "https://h.invalid/r.git", Ref: "--upload-pack=touch /tmp/x"}, Options{}, "invalid git revision"},
		{"header with newline", Ref{Remote: "https://h.invalid/r.git"}, Options{AuthHeader: "basic x\r\nX-Evil: " + goodToken}, "line break"},
		{"escaping subdir", Ref{Remote: "https://h.invalid/r.git", Subdir: "../etc"}, Options{}, "invalid subdir"},
		{"ssh without known_hosts", Ref{Remote: "ssh://git@h.invalid/r.git"}, Options{}, "--ssh-known-hosts"},
		{"unsupported scheme", Ref{Remote: "file:///etc"}, Options{}, "unsupported git remote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Fetch(context.Background(), tt.ref, filepath.Join(t.TempDir(), "out"), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Fetch error = %v, want it to contain %q", err, tt.want)
			}
			assertNoLeak(t, "error text", []string{err.Error()}, goodToken)
		})
	}
}

// TestFetchDestExists checks that an existing destination is never overwritten.
func TestFetchDestExists(t *testing.T) {
	dest := t.TempDir()
	_, err := Fetch(context.Background(), Ref{Remote: "https://h.invalid/r.git"}, dest, Options{})
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("Fetch error = %v, want destination exists", err)
	}
}

// TestFetchCancelled checks that a cancelled fetch fails with the context's error and
// leaves nothing behind.
func TestFetchCancelled(t *testing.T) {
	hushtest.RequireBinary(t, "git")
	parent := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Fetch(ctx, Ref{Remote: "https://h.invalid/r.git"}, filepath.Join(parent, "out"), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch error = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
