package dockerengine

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeEngine serves /images/load on a unix socket: it reads the whole body and answers
// with reply (docker's JSON message stream).
func fakeEngine(t *testing.T, reply string, got *string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/images/load" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		*got = string(b)
		io.WriteString(w, reply)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

// TestLoad: the archive reaches the engine whole; its "Loaded image" lines come back, and
// an error message in the stream is the load's error.
func TestLoad(t *testing.T) {
	tests := []struct {
		reply   string
		want    []string
		wantErr string
	}{
		{reply: `{"stream":"Loaded image: app:1\n"}` + "\n" + `{"stream":"Loaded image: app:2\n"}`, want: []string{"Loaded image: app:1", "Loaded image: app:2"}},
		{reply: `{"errorDetail":{"message":"invalid tar header"},"error":"invalid tar header"}`, wantErr: "docker load: invalid tar header"},
	}
	for _, tt := range tests {
		var got string
		t.Setenv("DOCKER_HOST", fakeEngine(t, tt.reply, &got))
		e, err := Find("")
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := e.Load(context.Background(), func(w io.Writer) error {
			_, err := io.WriteString(w, "the archive")
			return err
		})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(loaded, "|") != strings.Join(tt.want, "|") || got != "the archive" {
			t.Errorf("Load = %q, %v (engine got %q), want %q", loaded, err, got, tt.want)
		}
	}
}

// TestFindContext: without DOCKER_HOST the docker CLI's current context names the engine.
func TestFindContext(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	cfg := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfg)
	t.Setenv("DOCKER_CONTEXT", "")
	e, err := Find("")
	if err != nil || e.Host != DefaultHost {
		t.Fatalf("no context: %v, %v; want %s", e, err, DefaultHost)
	}
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"currentContext":"remote"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(""); err == nil || !strings.Contains(err.Error(), `docker context "remote"`) {
		t.Fatalf("a context without metadata: err = %v", err)
	}
	meta := filepath.Join(cfg, "contexts", "meta", contextID("remote"))
	if err := os.MkdirAll(meta, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(`{"Name":"remote","Endpoints":{"docker":{"Host":"tcp://10.0.0.9:2375"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if e, err = Find(""); err != nil || e.Host != "tcp://10.0.0.9:2375" {
		t.Fatalf("context remote: %v, %v", e, err)
	}
}
