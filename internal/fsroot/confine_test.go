package fsroot

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// pathCalls are the path-based calls that create, change or delete what a path names, with
// the index of each path argument. Called on a name inside a rootfs they follow a planted
// symlink on the host's terms; inside a root they must go through a Root.
var pathCalls = map[string][]int{
	"os.MkdirAll": {0}, "os.Mkdir": {0}, "os.Remove": {0}, "os.RemoveAll": {0},
	"os.Chtimes": {0}, "os.Lchown": {0}, "os.Chown": {0}, "os.Chmod": {0},
	"os.Symlink": {1}, "os.Link": {0, 1}, "os.Rename": {0, 1}, "os.Create": {0},
	"os.OpenFile": {0}, "os.WriteFile": {0}, "os.MkdirTemp": {0}, "os.CreateTemp": {0},
	"unix.Mknod": {0}, "unix.Lsetxattr": {0}, "unix.Setxattr": {0}, "unix.Lchown": {0},
	"unix.Chmod": {0}, "unix.Fchmodat": {1}, "unix.UtimesNanoAt": {1}, "unix.Unlink": {0},
	"unix.Rmdir": {0}, "unix.Mkdir": {0},
}

// rootfsName matches the names hush gives to trees that stand for a container's root
// (a rootfs, an overlay upper or merged dir, an unpacked layer, an extraction target).
var rootfsName = regexp.MustCompile(`^(Merged|Upper|Rootfs|rootfs|merged|upper|lower|dstRoot|layerDir|unpacked)$`)

// TestNoPathCallsUnderARootfs walks hush's source and fails when code outside this package
// hands a path joined under a rootfs (or a variable assigned one) to a path-based call.
func TestNoPathCallsUnderARootfs(t *testing.T) {
	var found []string
	for _, dir := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "fsroot" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
			if err != nil {
				return err
			}
			found = append(found, rootfsPathCalls(p, f)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range found {
		t.Errorf("%s: use an fsroot.Root for paths inside a rootfs", f)
	}
}

// TestConfinementCheckFindsViolations keeps the check above honest: it must flag each
// spelling of the mistake in testdata/violations.go.txt.
func TestConfinementCheckFindsViolations(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "testdata/violations.go.txt", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := rootfsPathCalls("violations", f)
	want := []string{
		"violations: mkdirWorkdir calls os.MkdirAll on a path under a rootfs",
		"violations: removeStub calls os.Remove on a path under a rootfs",
		"violations: restoreTimes calls os.Chtimes on a path under a rootfs",
		"violations: chownThroughVar calls os.Lchown on a path under a rootfs",
		"violations: concatenated calls unix.Mknod on a path under a rootfs",
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// rootfsPathCalls lists, per function of f, the path-based calls whose path argument is
// joined under a rootfs-named tree, directly or through a local variable.
func rootfsPathCalls(file string, f *ast.File) []string {
	var out []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		tainted := map[string]bool{}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				for i, rhs := range n.Rhs {
					if i < len(n.Lhs) && underRootfs(rhs, tainted) {
						if id, ok := n.Lhs[i].(*ast.Ident); ok {
							tainted[id.Name] = true
						}
					}
				}
			case *ast.CallExpr:
				name := callName(n.Fun)
				for _, i := range pathCalls[name] {
					if i < len(n.Args) && underRootfs(n.Args[i], tainted) {
						out = append(out, fmt.Sprintf("%s: %s calls %s on a path under a rootfs", file, fn.Name.Name, name))
						break
					}
				}
			}
			return true
		})
	}
	return out
}

// underRootfs reports a filepath.Join/path.Join whose first element names a rootfs, a
// concatenation starting with one, or a variable assigned such a path.
func underRootfs(e ast.Expr, tainted map[string]bool) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return tainted[e.Name]
	case *ast.CallExpr:
		switch callName(e.Fun) {
		case "filepath.Join", "path.Join":
			return len(e.Args) > 1 && (namesRootfs(e.Args[0]) || underRootfs(e.Args[0], tainted))
		}
	case *ast.BinaryExpr:
		return e.Op == token.ADD && (namesRootfs(e.X) || underRootfs(e.X, tainted))
	case *ast.ParenExpr:
		return underRootfs(e.X, tainted)
	}
	return false
}

func namesRootfs(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return rootfsName.MatchString(e.Name)
	case *ast.SelectorExpr:
		return rootfsName.MatchString(e.Sel.Name)
	}
	return false
}

func callName(fun ast.Expr) string {
	if sel, ok := fun.(*ast.SelectorExpr); ok {
		if pkg, ok := sel.X.(*ast.Ident); ok {
			return pkg.Name + "." + sel.Sel.Name
		}
	}
	return ""
}
