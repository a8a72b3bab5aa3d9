package main

import (
	"encoding/base64"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// gitServer serves a bare repo through the real git-http-backend and demands
// Authorization: basic base64(x-access-token:token).
func gitServer(t *testing.T, token string) (url string) {
	t.Helper()
	const backend = "/usr/lib/git-core/git-http-backend"
	_, err := os.Stat(backend)
	hushtest.Require(t, err == nil, "needs git-http-backend (Debian package git)")
	root := t.TempDir()
	work := filepath.Join(root, "work")
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@t", "HOME="+root, "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	os.MkdirAll(filepath.Join(work, "app"), 0o755)
	os.WriteFile(filepath.Join(work, "Dockerfile"), []byte("FROM busybox\nCOPY app/ /app/\nRUN cat /app/hello\n"), 0o644)
	os.WriteFile(filepath.Join(work, "app", "hello"), []byte("hello from git\n"), 0o644)
	git(work, "init", "-q", "-b", "main")
	git(work, "add", ".")
	git(work, "commit", "-q", "-m", "init")
	git(root, "clone", "-q", "--bare", work, filepath.Join(root, "repo.git"))
	want := "basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "HOME=" + root}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/repo.git"
}

// TestGitContextAndAdd builds from a private Git remote context and ADDs the same repo,
// authenticated by the GIT_AUTH_TOKEN secret, and checks the token is nowhere afterwards.
func TestGitContextAndAdd(t *testing.T) {
	requireHush(t)
	token := "CANARY-gittoken-" + strings.Repeat("z9", 6)
	remote := gitServer(t, token)
	env := hushtest.NewEnv(t, hushBin)
	run := func(args ...string) (string, int) {
		cmd := env.Command(args...)
		cmd.Env = append(cmd.Env, "GIT_TOKEN_VAR="+token)
		out, err := cmd.CombinedOutput()
		code := 0
		if err != nil {
			code = 1
		}
		return string(out), code
	}
	log, code := run("build", "--progress=plain", "--secret", "id=GIT_AUTH_TOKEN,env=GIT_TOKEN_VAR", "-t", "fromgit", remote+"#main")
	if code != 0 || !strings.Contains(log, "hello from git") {
		t.Fatalf("remote context build failed:\n%s", log)
	}
	if log, code := run("build", "--progress=plain", "-t", "fromgit2", remote+"#main"); code == 0 {
		t.Fatalf("build without the token succeeded:\n%s", log)
	}
	ctx := filepath.Join(env.Dir, "ctx")
	env.WriteFile("ctx/Dockerfile", "FROM busybox\nADD "+remote+"#main:app /src/\nADD --keep-git-dir=true "+remote+"#main /repo\nRUN cat /src/hello && ls -a /repo | grep -c .git\n")
	out := filepath.Join(env.Dir, "out")
	host := strings.SplitN(strings.TrimPrefix(remote, "http://"), "/", 2)[0] // host:port, as BuildKit keys it
	log, code = run("build", "--progress=plain", "--secret", "id=GIT_AUTH_TOKEN."+host+",env=GIT_TOKEN_VAR", "-o", "type=local,dest="+out, ctx)
	if code != 0 || !strings.Contains(log, "hello from git") {
		t.Fatalf("ADD git build failed:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(out, "repo", ".git", "config")); err != nil {
		t.Errorf("--keep-git-dir: .git missing: %v", err)
	}
	for _, l := range []string{log} {
		if strings.Contains(l, token) {
			t.Error("token in the build log")
		}
	}
	env.NoCanary([]byte(token))
}
