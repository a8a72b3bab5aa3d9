package layering

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/hush-build/hush/internal/"

// rules lists, per package, internal packages it must not import; "*io" bans the standard
// library's I/O packages for packages that must stay pure.
var rules = map[string][]string{
	"dockerfile":   {"plan", "builder", "executor", "snapshot", "image", "cli", "*io"},
	"plan":         {"builder", "executor", "snapshot", "image", "cli", "fscopy", "buildcontext", "*io"},
	"executor":     {"builder", "image", "cli", "plan"},
	"snapshot":     {"builder", "image", "cli", "plan", "executor"},
	"image":        {"builder", "cli", "plan", "executor", "snapshot"},
	"fscopy":       {"builder", "cli", "plan", "executor", "image"},
	"buildcontext": {"builder", "cli", "plan", "executor", "image"},
	"cache":        {"builder", "cli", "plan", "executor", "image", "snapshot"},
	"progress":     {"builder", "cli", "plan", "executor", "image", "snapshot"},
	"builder":      {"cli"},
	"audit":        {"builder", "cli", "executor", "snapshot", "plan"},
	"lint":         {"builder", "cli", "executor", "snapshot", "image"},
	"secretfile":   {"builder", "cli", "plan", "executor", "image", "snapshot", "secret"},
	"jet":          {"builder", "cli", "plan", "executor", "image", "snapshot", "secret"},
	"registry":     {"builder", "cli", "plan", "executor", "snapshot"},
	"gitsource":    {"builder", "cli", "plan", "executor", "image", "snapshot"},
	"sshagent":     {"builder", "cli", "plan", "executor", "image", "snapshot", "secret"},
	"secret":       {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "dockerfile"},
	"fsroot":       {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "untar", "secret", "audit"},
	"lease":        {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "untar", "secret", "audit"},
	"scratch":      {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "untar", "secret", "audit"},
	"untar":        {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "secret", "audit"},
	"outfile":      {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "untar", "secret", "audit"},
	// codeship reads the two pipeline files; it decrypts, builds and runs nothing.
	"codeship": {"builder", "cli", "plan", "executor", "image", "snapshot", "secret", "secretfile", "jet", "registry", "audit", "sink", "pipeline"},
	// pipeline orders a pipeline's work; containers are builder's and executor's.
	"pipeline": {"cli", "executor", "snapshot", "plan", "dockerfile", "fscopy", "untar"},
	// netns makes step network namespaces and their user-mode networks.
	"netns": {"builder", "cli", "plan", "executor", "image", "snapshot", "secret", "pipeline", "codeship", "registry"},
	// bake reads definitions into targets; building them is the caller's (cli's).
	"bake": {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "cache", "secret", "sink", "progress", "audit", "registry", "lease", "scratch"},
	// remotecache owns the cache format and its transfers; the stores and what may leave
	// the machine are the builder's.
	"remotecache": {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "secret", "audit", "progress", "bake", "pipeline", "codeship", "lease"},
	"sink":        {"builder", "cli", "plan", "executor", "snapshot", "fscopy", "cache", "secret", "audit"},
	// buildflags parses flag values into builder's request types; it runs nothing.
	"buildflags":   {"cli", "executor", "snapshot", "cache", "secret", "audit", "sink"},
	"provenance":   {"builder", "cli", "plan", "executor", "image", "snapshot", "secret", "audit", "*io"},
	"dockerengine": {"builder", "cli", "plan", "executor", "image", "snapshot", "secret", "audit", "sink"},
	"dockerfmt":    {"builder", "cli", "plan", "executor", "image", "snapshot", "secret", "audit", "*io"},
	// cli wires the packages below it; the build itself is builder's.
	"cli": {"cache", "executor", "snapshot", "fscopy", "fsroot", "untar", "scratch", "lease", "plan", "gitsource", "buildcontext", "dockerfile"},
	// hushtest serves tests of every package, so it imports none of hush's own.
	"hushtest": {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "cache", "secret", "audit", "registry"},
	// rootless sets up the user namespace; every package above it may ask it where it runs.
	"rootless": {"builder", "cli", "plan", "executor", "image", "snapshot", "fscopy", "untar", "secret", "audit", "netns", "pipeline", "registry", "fsroot"},
	// conformance reads built images for the corpus test; it builds nothing.
	"conformance": {"builder", "cli", "plan", "executor", "snapshot", "fscopy", "cache", "secret", "registry", "sink", "audit"},
	// gc decides what build cache goes; the builder hands it the stores.
	"gc": {"builder", "cli", "plan", "executor", "fscopy", "untar", "secret", "audit", "sink", "registry", "pipeline", "dockerfile", "buildcontext"},
	// layering holds only this test.
	"layering": {"builder", "cli"},
}

// TestEveryPackageHasRules keeps the table above complete: a new package must say what it
// may not import.
func TestEveryPackageHasRules(t *testing.T) {
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := rules[e.Name()]; e.IsDir() && !ok {
			t.Errorf("internal/%s has no import rules in layering's table", e.Name())
		}
	}
}

var ioPackages = []string{"os", "os/exec", "net", "net/http", "io/ioutil", "syscall"}

func TestImportDirection(t *testing.T) {
	for pkg, banned := range rules {
		dir := filepath.Join("..", pkg)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("reading %s: %v", dir, err)
		}
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatalf("parsing %s: %v", name, err)
			}
			for _, imp := range f.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				for _, b := range banned {
					if b == "*io" {
						for _, io := range ioPackages {
							if path == io {
								t.Errorf("%s/%s imports %s: package %s must do no I/O", pkg, name, path, pkg)
							}
						}
						continue
					}
					if path == module+b || strings.HasPrefix(path, module+b+"/") {
						t.Errorf("%s/%s imports %s: %s must not depend on %s", pkg, name, path, pkg, b)
					}
				}
			}
		}
	}
}
