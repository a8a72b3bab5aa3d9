package fscopy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fetchToken = "s3cr3t-t0ken"

func fetchServer(t *testing.T) *httptest.Server {
	t.Helper()
	lastMod := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/tool.tar.gz":
			w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
			w.Write(compressWith(t, "gzip", testTar(t)))
		case "/":
			w.Write([]byte("index"))
		case "/private/data.bin":
			if r.Header.Get("Authorization") != "Bearer "+fetchToken {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			w.Write([]byte("private"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchURL(t *testing.T) {
	srv := fetchServer(t)
	gz := compressWith(t, "gzip", testTar(t))
	auth := http.Header{"Authorization": {"Bearer " + fetchToken}}
	tests := []struct {
		name      string
		url       string
		headers   http.Header
		dst       map[string]string
		dest      string
		workdir   string
		opts      Options
		wantPath  string
		wantBody  string
		wantMode  uint32
		wantMtime bool
		wantErr   string
	}{
		{name: "dir dest names file from URL, not extracted", url: "/files/tool.tar.gz", dest: "/dl/", wantPath: "dl/tool.tar.gz", wantBody: string(gz), wantMode: 0o600, wantMtime: true},
		{name: "file dest", url: "/files/tool.tar.gz", dest: "/opt/tool.tgz", wantPath: "opt/tool.tgz", wantBody: string(gz), wantMode: 0o600, wantMtime: true},
		{name: "existing dir dest", url: "/files/tool.tar.gz", dst: map[string]string{"opt/": ""}, dest: "/opt", wantPath: "opt/tool.tar.gz", wantBody: string(gz), wantMode: 0o600, wantMtime: true},
		{name: "relative dest", url: "/files/tool.tar.gz", dest: ".", workdir: "/w", wantPath: "w/tool.tar.gz", wantBody: string(gz), wantMode: 0o600, wantMtime: true},
		{name: "no name in URL", url: "/", dest: "/dl/", wantPath: "dl/__unnamed__", wantBody: "index", wantMode: 0o600},
		{name: "chmod", url: "/", dest: "/x", opts: Options{Chmod: modePtr(0o755)}, wantPath: "x", wantBody: "index", wantMode: 0o755},
		{name: "auth header sent", url: "/private/data.bin", headers: auth, dest: "/d/", wantPath: "d/data.bin", wantBody: "private", wantMode: 0o600},
		{name: "replaces an escaping symlink", url: "/", dst: map[string]string{"x": "->/../../../../etc/hush-victim"}, dest: "/x", wantPath: "etc/hush-victim", wantBody: "index", wantMode: 0o600},
		{name: "not found", url: "/nope", dest: "/d/", wantErr: "404"},
		{name: "bad auth never echoed", url: "/private/data.bin?token=" + fetchToken, headers: http.Header{"Authorization": {"Bearer wrong-" + fetchToken}}, dest: "/d/", wantErr: "401"},
		{name: "scheme", url: "ftp://example.com/x", dest: "/d/", wantErr: "unsupported scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dstRoot := t.TempDir()
			mkTree(t, dstRoot, tt.dst)
			u := tt.url
			if strings.HasPrefix(u, "/") {
				u = srv.URL + u
			}
			sum, err := FetchURL(context.Background(), u, tt.headers, dstRoot, tt.dest, tt.workdir, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), fetchToken) {
					t.Errorf("error leaks the credential: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FetchURL: %v", err)
			}
			p := filepath.Join(dstRoot, tt.wantPath)
			body, err := os.ReadFile(p)
			must(t, err)
			if string(body) != tt.wantBody {
				t.Errorf("%s content = %q, want %q", tt.wantPath, body, tt.wantBody)
			}
			h := sha256.Sum256(body)
			if sum != "sha256:"+hex.EncodeToString(h[:]) {
				t.Errorf("digest = %s, want sha256 of content", sum)
			}
			st := statT(t, p)
			if st.Mode&0o7777 != tt.wantMode || st.Uid != 0 || st.Gid != 0 {
				t.Errorf("%s mode %o owner %d:%d, want %o 0:0", tt.wantPath, st.Mode&0o7777, st.Uid, st.Gid, tt.wantMode)
			}
			fi, err := os.Stat(p)
			must(t, err)
			lastMod := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
			if tt.wantMtime != fi.ModTime().Equal(lastMod) {
				t.Errorf("mtime = %v, want Last-Modified %v: %v", fi.ModTime(), lastMod, tt.wantMtime)
			}
			entries, err := os.ReadDir(filepath.Dir(p))
			must(t, err)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".hush-fetch-") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

func TestFetchURLChown(t *testing.T) {
	needRoot(t)
	srv := fetchServer(t)
	dstRoot := t.TempDir()
	if _, err := FetchURL(context.Background(), srv.URL+"/", nil, dstRoot, "/a/b/", "", Options{Chown: &Owner{UID: 11, GID: 12}}); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"a", "a/b", "a/b/__unnamed__"} {
		if st := statT(t, filepath.Join(dstRoot, rel)); st.Uid != 11 || st.Gid != 12 {
			t.Errorf("%s owner %d:%d, want 11:12", rel, st.Uid, st.Gid)
		}
	}
}
