package bake

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// printCase is one directory of testdata/print: definition files, an `args` file (one
// command-line argument per line: -f FILE, --set X, --var K=V or a target) and an `env`
// file (KEY=VALUE lines, the whole environment), with want.json, the output of
// `docker buildx bake --print` run there with that environment (scripts/bake-goldens.sh).
type printCase struct {
	dir  string
	opts Options
}

func loadPrintCase(t *testing.T, dir string) printCase {
	t.Helper()
	env := map[string]string{}
	for _, line := range readLines(t, filepath.Join(dir, "env")) {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	o := Options{Env: Env{
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ: func() []string {
			var out []string
			for k, v := range env {
				out = append(out, k+"="+v)
			}
			return out
		},
		Getwd:    os.Getwd,
		Defaults: DefaultVars(),
		Vars:     map[string]string{},
	}}
	args := readLines(t, filepath.Join(dir, "args"))
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-f", "--set", "--var":
			if i+1 == len(args) {
				t.Fatalf("%s/args: %s without a value", dir, a)
			}
			i++
			switch a {
			case "-f":
				o.Files = append(o.Files, args[i])
			case "--set":
				o.Overrides = append(o.Overrides, args[i])
			case "--var":
				k, v, _ := strings.Cut(args[i], "=")
				o.Env.Vars[k] = v
			}
		case "--print":
		default:
			o.Targets = append(o.Targets, a)
		}
	}
	return printCase{dir: dir, opts: o}
}

func readLines(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
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
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// TestPrintMatchesBuildx resolves every testdata/print case and compares the --print
// output with the one buildx printed for it.
func TestPrintMatchesBuildx(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "print", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no print cases: %v", err)
	}
	for _, dir := range dirs {
		abs, _ := filepath.Abs(dir)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := loadPrintCase(t, abs)
			t.Chdir(abs)
			// homedir() and compose's ~ read the process's HOME, not the lookup.
			if home, ok := c.opts.Env.Lookup("HOME"); ok {
				t.Setenv("HOME", home)
			}
			d, err := Load(c.opts)
			if err != nil {
				t.Fatalf("resolving: %v", err)
			}
			var got bytes.Buffer
			if err := d.Print(&got); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(abs, "want.json"))
			if err != nil {
				t.Fatalf("reading the buildx golden: %v", err)
			}
			if got.String() != string(want) {
				if os.Getenv("BAKE_GOT_DIR") != "" {
					_ = os.WriteFile(filepath.Join(os.Getenv("BAKE_GOT_DIR"), filepath.Base(abs)+".json"), got.Bytes(), 0o644)
				}
				t.Errorf("--print differs from buildx's\n--- buildx\n%s\n--- hush\n%s", want, got.String())
			}
		})
	}
}

// TestListMatchesBuildx compares --list targets and --list variables (JSON) with what
// buildx listed for each testdata/print case.
func TestListMatchesBuildx(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "print", "*"))
	for _, dir := range dirs {
		abs, _ := filepath.Abs(dir)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := loadPrintCase(t, abs)
			t.Chdir(abs)
			if home, ok := c.opts.Env.Lookup("HOME"); ok {
				t.Setenv("HOME", home)
			}
			_, cfg, res, err := Read(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range []struct {
				golden string
				print  func(*bytes.Buffer) error
			}{
				{"want-list-targets.txt", func(b *bytes.Buffer) error { return PrintTargets(b, "table", cfg) }},
				{"want-list-variables.json", func(b *bytes.Buffer) error { return PrintVariables(b, "json", res.Variables) }},
			} {
				want, err := os.ReadFile(filepath.Join(abs, l.golden))
				if err != nil {
					t.Fatalf("reading the buildx golden: %v", err)
				}
				var got bytes.Buffer
				if err := l.print(&got); err != nil {
					t.Fatal(err)
				}
				if got.String() != string(want) {
					t.Errorf("%s differs from buildx's\n--- buildx\n%s\n--- hush\n%s", l.golden, want, got.String())
				}
			}
		})
	}
}
