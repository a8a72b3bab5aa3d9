package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestAddURLWithAuthSecret: ADD <url> sends HTTP_AUTH_TOKEN_<host> as a Bearer token (and
// HTTP_AUTH_HEADER_<host> verbatim), downloads once per build, and the token is nowhere
// afterwards.
func TestAddURLWithAuthSecret(t *testing.T) {
	requireHush(t)
	token := "CANARY-httptoken-" + strings.Repeat("q7", 5)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("private artifact\n"))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	env := hushtest.NewEnv(t, hushBin)
	env.WriteFile("ctx/Dockerfile", "FROM busybox\nADD "+srv.URL+"/artifact.txt /opt/\nRUN cat /opt/artifact.txt\n")
	ctx := filepath.Join(env.Dir, "ctx")
	build := func(args ...string) (string, int) {
		cmd := env.Command(append([]string{"build", "--progress=plain"}, args...)...)
		cmd.Env = append(cmd.Env, "TOKEN_VAR="+token)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), 1
		}
		return string(out), 0
	}
	if log, code := build(ctx); code == 0 {
		t.Fatalf("ADD without the token succeeded:\n%s", log)
	}
	hits.Store(0)
	log, code := build("--secret", "id=HTTP_AUTH_TOKEN_"+u.Hostname()+",env=TOKEN_VAR", ctx)
	if code != 0 || !strings.Contains(log, "private artifact") {
		t.Fatalf("ADD with the token: %d\n%s", code, log)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the URL was fetched %d times in one build, want 1", n)
	}
	if strings.Contains(log, token) {
		t.Error("token in the build log")
	}
	env.NoCanary([]byte(token))
}
