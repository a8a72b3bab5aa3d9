package main

import (
	"bufio"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hush-build/hush/internal/conformance"
	"github.com/hush-build/hush/internal/hushtest"
)

// TestConformance builds every case of testdata/conformance with hush and compares the
// image with the goldens BuildKit produced from the same case (scripts/conformance.sh,
// `make conformance`): config, history and each new layer's entries, as
// internal/conformance summarises and normalises them. One state dir and one busybox base
// serve every case.
func TestConformance(t *testing.T) {
	e := hushtest.NewEnv(t, hushBin)
	out, errOut, code := e.Run("inspect", "busybox:latest")
	if code != 0 {
		t.Fatalf("hush inspect busybox:latest: exit %d\n%s", code, errOut)
	}
	isBase, err := conformance.BaseLayers([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join("..", "..", "testdata", "conformance", "*", "Dockerfile"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no conformance cases found: %v", err)
	}
	for _, df := range dirs {
		dir, err := filepath.Abs(filepath.Dir(df))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			serveConformanceHTTP(t, dir)
			img := buildConformanceCase(t, e, dir)
			s, err := conformance.Read(img, isBase)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Files()
			if err != nil {
				t.Fatal(err)
			}
			if out := os.Getenv("HUSH_CONFORMANCE_GOT"); out != "" {
				writeConformanceGot(t, filepath.Join(out, filepath.Base(dir)), got)
			}
			for _, name := range []string{conformance.ConfigFile, conformance.HistoryFile, conformance.LayersFile} {
				want, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("reading the golden (make conformance writes it): %v", err)
				}
				if d := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got[name]), "\n")); d != "" {
					t.Errorf("%s differs from BuildKit's (-buildkit +hush):\n%s", name, d)
				}
			}
		})
	}
}

// conformanceHTTP is where a case's http/ dir is served (scripts/conformance.sh serves it
// there too: the Dockerfile and so the history name the address).
const conformanceHTTP = "127.0.0.1:5919"

// serveConformanceHTTP serves the case's http/ dir, if it has one, for the subtest.
func serveConformanceHTTP(t *testing.T, dir string) {
	t.Helper()
	files := filepath.Join(dir, "http")
	if _, err := os.Stat(files); os.IsNotExist(err) {
		return
	}
	l, err := net.Listen("tcp", conformanceHTTP)
	if err != nil {
		t.Fatalf("serving %s on %s: %v", files, conformanceHTTP, err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(files)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// writeConformanceGot keeps hush's files of a case in dir, for a closer look than the
// diff gives (HUSH_CONFORMANCE_GOT=DIR).
func writeConformanceGot(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// buildConformanceCase builds a case with hush into an OCI archive and returns its path.
func buildConformanceCase(t *testing.T, e *hushtest.Env, dir string) string {
	t.Helper()
	// Under the environment's work dir, which a rootless run's user owns.
	work, err := os.MkdirTemp(e.Dir, filepath.Base(dir)+"-")
	if err != nil {
		t.Fatal(err)
	}
	ctx := filepath.Join(work, "context")
	copyConformanceContext(t, filepath.Join(dir, "context"), ctx)
	img := filepath.Join(work, "image.tar")
	args := []string{"build", "--progress=plain", "-f", filepath.Join(dir, "Dockerfile")}
	args = append(args, conformanceFlags(t, dir)...)
	args = append(args, "-o", "type=oci,dest="+img, ctx)
	cmd := e.Command(args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hush %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return img
}

// conformanceFlags reads a case's flags file: one build flag a line (# comments).
func conformanceFlags(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "flags"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// copyConformanceContext copies a case's context (if any) to dst with fixed modes, as
// scripts/conformance-context.sh does: directories 0755, files 0755 when any execute bit
// is set, else 0644; symlinks as they are.
func copyConformanceContext(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); os.IsNotExist(err) {
		return
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Mkdir(target, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			if err := os.WriteFile(target, b, mode); err != nil {
				return err
			}
			return os.Chmod(target, mode) // past the umask
		}
	})
	if err != nil {
		t.Fatalf("copying the context: %v", err)
	}
}
