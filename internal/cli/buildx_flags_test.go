package cli

import (
	"strings"
	"testing"
)

// buildxBuildFlags are `docker buildx build`'s flags in buildx v0.38.2 (commands/build.go
// and the root's --builder and --debug), with their shorthand and pflag type. A flag
// missing from hush build, or spelled or typed differently, fails TestBuildxFlags.
var buildxBuildFlags = []struct{ name, short, typ string }{
	{"add-host", "", "stringSlice"},
	{"allow", "", "stringArray"},
	{"annotation", "", "stringArray"},
	{"attest", "", "stringArray"},
	{"build-arg", "", "stringArray"},
	{"build-context", "", "stringArray"},
	{"builder", "", "string"},
	{"cache-from", "", "stringArray"},
	{"cache-to", "", "stringArray"},
	{"call", "", "string"},
	{"cgroup-parent", "", "string"},
	{"check", "", "bool"},
	{"debug", "D", "bool"},
	{"file", "f", "string"},
	{"iidfile", "", "string"},
	{"label", "", "stringArray"},
	{"load", "", "bool"},
	{"metadata-file", "", "string"},
	{"network", "", "string"},
	{"no-cache", "", "bool"},
	{"no-cache-filter", "", "stringArray"},
	{"output", "o", "stringArray"},
	{"platform", "", "stringArray"},
	{"policy", "", "stringArray"},
	{"progress", "", "string"},
	{"provenance", "", "string"},
	{"pull", "", "bool"},
	{"push", "", "bool"},
	{"quiet", "q", "bool"},
	{"resource", "", "stringArray"},
	{"sbom", "", "string"},
	{"secret", "", "stringArray"},
	{"shm-size", "", "bytes"},
	{"ssh", "", "stringArray"},
	{"tag", "t", "stringArray"},
	{"target", "", "string"},
	{"ulimit", "", "ulimit"},
}

// buildxHiddenFlags are buildx's hidden build flags: accepted so that old docker build
// command lines keep working, never shown.
var buildxHiddenFlags = []struct{ name, short string }{
	{"compress", ""}, {"isolation", ""}, {"security-opt", ""}, {"squash", ""}, {"rm", ""},
	{"force-rm", ""}, {"memory", "m"}, {"memory-swap", ""}, {"cpu-shares", "c"}, {"cpu-period", ""},
	{"cpu-quota", ""}, {"cpuset-cpus", ""}, {"cpuset-mems", ""},
}

// TestBuildxFlags: hush build has every buildx build flag, with buildx's spelling,
// shorthand and value type, and `hush build --help` lists each one.
func TestBuildxFlags(t *testing.T) {
	if len(buildxBuildFlags) != 37 {
		t.Fatalf("the table lists %d flags; buildx v0.38 build has 37", len(buildxBuildFlags))
	}
	cmd := newBuildCmd(&globals{})
	code, help, _ := execute(t, "build", "--help")
	if code != 0 {
		t.Fatalf("hush build --help: exit %d", code)
	}
	for _, want := range buildxBuildFlags {
		f := cmd.Flags().Lookup(want.name)
		switch {
		case f == nil:
			t.Errorf("--%s: missing", want.name)
			continue
		case f.Shorthand != want.short:
			t.Errorf("--%s: shorthand %q, want %q", want.name, f.Shorthand, want.short)
		case f.Value.Type() != want.typ:
			t.Errorf("--%s: type %s, want %s", want.name, f.Value.Type(), want.typ)
		case f.Hidden:
			t.Errorf("--%s: hidden", want.name)
		}
		if !strings.Contains(help, "--"+want.name+" ") {
			t.Errorf("--%s: not in hush build --help", want.name)
		}
	}
	for _, want := range buildxHiddenFlags {
		f := cmd.Flags().Lookup(want.name)
		if f == nil || !f.Hidden || f.Shorthand != want.short {
			t.Errorf("--%s: want a hidden flag with shorthand %q, got %+v", want.name, want.short, f)
		}
	}
}
