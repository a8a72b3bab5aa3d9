package hushtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestNoDirectSkip: every skip in the module's tests goes through Require (or a helper built
// on it), so that HUSH_REQUIRE_ALL=1 turns it into a failure. A direct t.Skip, t.Skipf or
// t.SkipNow (b.… too) in a *_test.go outside this package, or a `skip` in a testscript
// script, fails.
func TestNoDirectSkip(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(root, "internal", "hushtest")
	found, err := directSkips(root, self)
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := scriptSkips(filepath.Join(root, "testdata", "script"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(found, scripts...) {
		t.Errorf("%s: skips directly; use hushtest.Require so that %s=1 fails instead", f, RequireAllEnv)
	}
}

// TestNoDirectSkipFixture: the lint finds every direct skip in a fixture and nothing else.
func TestNoDirectSkipFixture(t *testing.T) {
	found, err := directSkips("testdata/skiplint", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pkg/direct_test.go:11: t.Skip", "pkg/direct_test.go:13: t.Skipf", "pkg/direct_test.go:17: b.SkipNow"}
	if !reflect.DeepEqual(found, want) {
		t.Errorf("Go skips = %q, want %q", found, want)
	}
	found, err = scriptSkips("testdata/skiplint/script")
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"skips.txtar:3: skip", "skips.txtar:4: skip"}
	if !reflect.DeepEqual(found, want) {
		t.Errorf("script skips = %q, want %q", found, want)
	}
}

// directSkips lists "FILE:LINE: X.Skip…" for every Skip, Skipf or SkipNow call in the
// *_test.go files under root (paths relative to root), leaving out the tree at allowed and
// testdata directories below root.
func directSkips(root, allowed string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (p == allowed || name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		calls, err := skipCalls(p)
		for _, c := range calls {
			found = append(found, rel+":"+c)
		}
		return err
	})
	return found, err
}

// skipCalls lists "LINE: X.Skip…" for the skip calls in one Go file.
func skipCalls(path string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		return nil, err
	}
	var calls []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Skip" && sel.Sel.Name != "Skipf" && sel.Sel.Name != "SkipNow") {
			return true
		}
		recv := "?"
		if id, ok := sel.X.(*ast.Ident); ok {
			recv = id.Name
		}
		calls = append(calls, fmt.Sprintf("%d: %s.%s", fset.Position(call.Pos()).Line, recv, sel.Sel.Name))
		return true
	})
	return calls, nil
}

// scriptSkips lists "FILE:LINE: skip" for every `skip` command (conditional or not) in the
// testscript scripts (*.txtar) in dir.
func scriptSkips(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		return nil, err
	}
	var found []string
	for _, file := range files {
		a, err := txtar.ParseFile(file)
		if err != nil {
			return nil, err
		}
		for i, line := range strings.Split(string(a.Comment), "\n") {
			line = strings.TrimSpace(line)
			for strings.HasPrefix(line, "[") && strings.Contains(line, "]") {
				line = strings.TrimSpace(line[strings.Index(line, "]")+1:])
			}
			if f := strings.Fields(line); len(f) > 0 && f[0] == "skip" {
				found = append(found, fmt.Sprintf("%s:%d: skip", filepath.Base(file), i+1))
			}
		}
	}
	return found, nil
}
