package bake

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// loadIn writes files into a temporary directory and resolves targets there with env.
func loadIn(t *testing.T, files map[string]string, env map[string]string, targets []string, sets ...string) (*Definition, error) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return Load(Options{Targets: targets, Overrides: sets, Env: Env{Lookup: lookup, Getwd: os.Getwd,
		Environ: func() []string { return nil }, Defaults: DefaultVars()}})
}

// TestResolveErrors checks the definitions and flags buildx refuses, by what the error
// says.
func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		targets []string
		sets    []string
		want    string
	}{
		{"unknown target", map[string]string{"docker-bake.hcl": `target "a" {}`}, []string{"nope"}, nil, "failed to find target nope"},
		{"no pattern match", map[string]string{"docker-bake.hcl": `target "a" {}`}, []string{"x*"}, nil, `could not find any target matching "x*"`},
		{"set without key", map[string]string{"docker-bake.hcl": `target "a" {}`}, []string{"a"}, []string{"a=1"}, "invalid override key a, expected target.name"},
		{"set unknown key", map[string]string{"docker-bake.hcl": `target "a" {}`}, []string{"a"}, []string{"a.colour=red"}, "unknown key: colour"},
		{"secret append by id", map[string]string{"docker-bake.hcl": `target "a" { secret = ["id=s,env=S"] }`}, []string{"a"}, []string{"a.secret.s+=env=T"}, "secret does not support append"},
		{"secret override undeclared", map[string]string{"docker-bake.hcl": `target "a" {}`}, []string{"a"}, []string{"a.secret.s=env=T"}, `secret "s" must be declared before it can be overridden`},
		{"secret override other id", map[string]string{"docker-bake.hcl": `target "a" { secret = ["id=s,env=S"] }`}, []string{"a"}, []string{"a.secret.s=id=t,env=T"}, `secret override id "t" does not match declared secret "s"`},
		{"bad bool", map[string]string{"docker-bake.hcl": `target "a" {}`}, []string{"a"}, []string{"a.no-cache=maybe"}, "invalid value maybe for boolean key no-cache"},
		{"name without matrix", map[string]string{"docker-bake.hcl": `target "a" { name = "b" }`}, []string{"a"}, nil, "name requires matrix"},
		{"matrix on a group", map[string]string{"docker-bake.hcl": `group "g" {
  targets = ["a"]
  matrix = { x = ["1"] }
}
target "a" {}`}, []string{"g"}, nil, "matrix is not supported for groups"},
		{"link loop", map[string]string{"docker-bake.hcl": `target "a" { contexts = { b = "target:b" } }
target "b" { contexts = { a = "target:a" } }`}, []string{"a"}, nil, "infinite loop from"},
		{"link to itself", map[string]string{"docker-bake.hcl": `target "a" { contexts = { x = "target:a" } }`}, []string{"a"}, nil, "target a cannot link to itself"},
		{"variable validation", map[string]string{"docker-bake.hcl": `variable "TAG" {
  default = ""
  validation {
    condition     = TAG != ""
    error_message = "TAG must not be empty."
  }
}
target "a" { tags = [TAG] }`}, []string{"a"}, nil, "TAG must not be empty."},
		{"undeclared variable", map[string]string{"docker-bake.hcl": `target "a" { tags = ["${HOME}"] }`}, []string{"a"}, nil, `docker-bake.hcl:1,25-29: Unknown variable; There is no variable named "HOME".`},
		{"bad target name", map[string]string{"docker-bake.hcl": `target "a b" {}`}, []string{"a b"}, nil, `only "[a-zA-Z0-9_-]+" are allowed`},
		{"compose external secret", map[string]string{"compose.yaml": `services:
  a:
    build:
      context: .
      secrets: [s]
secrets:
  s:
    external: true
`}, []string{"a"}, nil, "unsupported external secret s"},
		{"no definition", map[string]string{"README": "x"}, nil, nil, "couldn't find a bake definition"},
		{"remote definition", map[string]string{"docker-bake.hcl": `target "a" {}`}, []string{"https://github.com/example/app.git"}, nil, "remote bake definitions are not supported yet"},
		{"stdin context", map[string]string{"docker-bake.hcl": `target "a" { context = "-" }`}, []string{"a"}, nil, "target a: context from stdin not allowed in bake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadIn(t, tt.files, nil, tt.targets, tt.sets...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestFunctions evaluates buildx's function library (and a user function) in labels.
func TestFunctions(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`regex_replace("v1.2.3", "^v", "")`, "1.2.3"},
		{`join(",", distinct(jsondecode("[\"a\",\"b\",\"a\"]")))`, "a,b"},
		{`homedir()`, "/home/tester"},
		{`sanitize("feat/Some.branch")`, "feat_Some_branch"},
		{`upper(trimprefix("refs/tags/v1", "refs/tags/"))`, "V1"},
		{`format("%s-%03d", "build", 7)`, "build-007"},
		{`semvercmp("1.4.2", ">= 1.2.0") ? "yes" : "no"`, "yes"},
		{`join(",", formatlist("x-%s", ["a", "b"]))`, "x-a,x-b"},
		{`double("ab")`, "abab"},
		{`jsonencode({ a = 1 })`, `{"a":1}`},
		{`indexof(["a", "b"], "b")`, "1"},
		{`try(jsondecode("{"), "fallback")`, "fallback"},
	}
	var b strings.Builder
	b.WriteString("function \"double\" {\n  params = [s]\n  result = \"${s}${s}\"\n}\ntarget \"a\" {\n  labels = {\n")
	for i, tt := range tests {
		b.WriteString("    l" + string(rune('a'+i)) + " = " + tt.expr + "\n")
	}
	b.WriteString("  }\n}\n")
	t.Setenv("HOME", "/home/tester")
	d, err := loadIn(t, map[string]string{"docker-bake.hcl": b.String()}, nil, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		got := d.Target["a"].Labels["l"+string(rune('a'+i))]
		if got == nil || *got != tt.want {
			t.Errorf("%s = %v, want %q", tt.expr, deref(got), tt.want)
		}
	}
	d, err = loadIn(t, map[string]string{"docker-bake.hcl": `target "a" { labels = { t = timestamp() } }`}, nil, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if ts := *d.Target["a"].Labels["t"]; !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(ts) {
		t.Errorf("timestamp() = %q, want RFC 3339 UTC", ts)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestVariablesFromEnvironment checks the typing of variable values read from the
// environment, and that --var wins over it.
func TestVariablesFromEnvironment(t *testing.T) {
	def := `variable "ON" { default = false }
variable "N" { default = 1 }
variable "L" {
  type    = list(string)
  default = []
}
variable "S" { default = "x" }
target "a" {
  args = {
    ON = ON ? "yes" : "no"
    N  = N + 1
    L  = join("|", L)
    S  = S
  }
}
`
	tests := []struct {
		name string
		env  map[string]string
		vars map[string]string
		want map[string]string
	}{
		{"defaults", nil, nil, map[string]string{"ON": "no", "N": "2", "L": "", "S": "x"}},
		{"typed from env", map[string]string{"ON": "true", "N": "41", "L": "a,b", "S": "y"}, nil, map[string]string{"ON": "yes", "N": "42", "L": "a|b", "S": "y"}},
		{"--var wins", map[string]string{"S": "env"}, map[string]string{"S": "var"}, map[string]string{"S": "var"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "docker-bake.hcl"), []byte(def), 0o644)
			t.Chdir(dir)
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			d, err := Load(Options{Targets: []string{"a"}, Env: Env{Lookup: lookup, Vars: tt.vars, Getwd: os.Getwd}})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got := deref(d.Target["a"].Args[k]); got != want {
					t.Errorf("arg %s = %q, want %q", k, got, want)
				}
			}
		})
	}
	t.Run("bad number", func(t *testing.T) {
		_, err := loadIn(t, map[string]string{"docker-bake.hcl": def}, map[string]string{"N": "many"}, []string{"a"})
		if err == nil || !strings.Contains(err.Error(), "N") {
			t.Fatalf("error %v, want one naming N", err)
		}
	})
}
