package plan_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/plan"
)

var update = flag.Bool("update", false, "rewrite testdata/*/plan.golden from the current output")

// TestGolden plans every testdata/<case>/Dockerfile (with the --build-arg lines of
// testdata/<case>/args, and "target=NAME" for --target) and compares a dump of every
// stage's steps with testdata/<case>/plan.golden.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases under testdata")
	}
	for _, df := range dirs {
		dir := filepath.Dir(df)
		if filepath.Base(dir) == "negative" {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			opts := readOptions(t, filepath.Join(dir, "args"))
			got, err := dumpPlan(df, opts)
			if err != nil {
				t.Fatalf("planning %s: %v", df, err)
			}
			golden := filepath.Join(dir, "plan.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run go test -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("plan of %s differs from %s (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", df, golden, got, want)
			}
		})
	}
}

// TestNegative plans every testdata/negative/<case>/Dockerfile and wants an error that
// names Dockerfile:LINE and contains the text of testdata/negative/<case>/error.
func TestNegative(t *testing.T) {
	dfs, err := filepath.Glob("testdata/negative/*/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(dfs) == 0 {
		t.Fatal("no negative cases under testdata/negative")
	}
	for _, df := range dfs {
		dir := filepath.Dir(df)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, "error"))
			if err != nil {
				t.Fatal(err)
			}
			opts := readOptions(t, filepath.Join(dir, "args"))
			_, err = dumpPlan(df, opts)
			if err == nil {
				t.Fatalf("planning %s succeeded, want an error containing %q", df, want)
			}
			for _, w := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "Dockerfile:") {
				t.Errorf("error %q does not name Dockerfile:LINE", err)
			}
		})
	}
}

// readOptions reads KEY=VALUE build args (and target=NAME) from path; a missing file
// means none.
func readOptions(t *testing.T, path string) plan.Options {
	t.Helper()
	opts := plan.Options{BuildArgs: map[string]string{}, Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}, BuildPlatform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return opts
	}
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q: want KEY=VALUE", path, line)
		}
		if k == "target" {
			opts.Target = v
			continue
		}
		opts.BuildArgs[k] = v
	}
	return opts
}

var kindNames = map[plan.Kind]string{plan.Meta: "meta", plan.Run: "run", plan.Copy: "copy", plan.Mkdir: "mkdir"}

// dumpPlan plans the Dockerfile at path and applies every stage, needed or not, to an
// empty base config, returning a stable text dump.
func dumpPlan(path string, opts plan.Options) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	f, err := dockerfile.Parse("Dockerfile", bytes.NewReader(src))
	if err != nil {
		return "", err
	}
	p, err := plan.New(f, opts)
	if err != nil {
		return "", err
	}
	return dumpStages(p)
}

// dumpStages applies every stage of p, needed or not, to an empty base config.
func dumpStages(p *plan.Plan) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "target: %s\n", p.Target)
	for _, st := range p.Stages {
		base := st.Base
		if st.BaseStage != nil {
			base = "stage " + st.BaseStage.String()
		}
		var deps []string
		for _, d := range st.Deps {
			deps = append(deps, d.String())
		}
		fmt.Fprintf(&b, "\nstage %d %s (line %d) from %s needed=%v deps=%v\n", st.Index, st, st.Line, base, st.Needed, deps)
		state, err := p.NewState(st, v1.Config{})
		if err != nil {
			return "", err
		}
		for _, c := range st.Commands {
			step, err := state.Apply(c)
			if err != nil {
				return "", err
			}
			dumpStep(&b, step)
		}
		cfg, err := json.Marshal(state.Config)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  config: %s\n", cfg)
	}
	if unused := p.UnusedBuildArgs(); len(unused) > 0 {
		fmt.Fprintf(&b, "\nunused build args: %v\n", unused)
	}
	return b.String(), nil
}

func dumpStep(b *strings.Builder, s *plan.Step) {
	fmt.Fprintf(b, "  - %s line %d: %s\n", kindNames[s.Kind], s.Line, s.Name)
	if strings.Contains(s.CreatedBy, "\n") {
		fmt.Fprintf(b, "    created_by: %q\n", s.CreatedBy)
	} else {
		fmt.Fprintf(b, "    created_by: %s\n", s.CreatedBy)
	}
	fmt.Fprintf(b, "    user: %q workdir: %q\n", s.User, s.Workdir)
	if s.Kind == plan.Run {
		fmt.Fprintf(b, "    args: %q\n", s.Args)
		fmt.Fprintf(b, "    env: %q\n", s.Env)
		if s.Network != "" {
			fmt.Fprintf(b, "    network: %s\n", s.Network)
		}
		for _, m := range s.Mounts {
			fmt.Fprintf(b, "    mount: type=%s target=%s from=%s id=%s\n", m.Type, m.Target, m.From, m.CacheID)
		}
		if s.Script != nil {
			fmt.Fprintf(b, "    script %s: %q\n", s.Script.Name, s.Script.Data)
		}
	}
	if s.Kind == plan.Mkdir {
		fmt.Fprintf(b, "    dir: %s\n", s.Dir)
	}
	if c := s.Copy; c != nil {
		from := c.From
		if c.FromStage != nil {
			from = "stage " + c.FromStage.String()
		}
		fmt.Fprintf(b, "    copy: add=%v sources=%q dest=%q from=%q chown=%q chmod=%q link=%v excludes=%q\n",
			c.Add, c.Sources, c.Dest, from, c.Chown, c.Chmod, c.Link, c.Excludes)
		for _, sc := range c.Contents {
			fmt.Fprintf(b, "    content %s: %q\n", sc.Path, sc.Data)
		}
	}
}
