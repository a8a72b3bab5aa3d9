package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/bake"
)

// bakeTargetsIn resolves a docker-bake.hcl written in a temporary working directory.
func bakeTargetsIn(t *testing.T, hcl string, sets ...string) *bake.Definition {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-bake.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	d, err := bake.Load(bake.Options{Overrides: sets, Env: bake.Env{Lookup: os.LookupEnv, Getwd: os.Getwd, Defaults: bake.DefaultVars()}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestBakeUnsupportedAttributes: an attribute hush cannot honour is an error naming the
// definition file, the target and the attribute — never dropped.
func TestBakeUnsupportedAttributes(t *testing.T) {
	tests := []struct{ attr, hcl string }{
		{"contexts", `contexts = { src = "./src" }`},
		{"no-cache-filter", `no-cache-filter = ["deps"]`},
		{"pull", `pull = true`},
		{"annotations", `annotations = ["index:a=b"]`},
		{"attest", `attest = ["type=sbom"]`},
		{"call", `call = "check"`},
		{"ulimits", `ulimits = ["nofile=1024:1024"]`},
		{"platforms", `platforms = ["linux/arm64"]`},
		{"shm-size", `shm-size = "128m"`},
		{"extra-hosts", `extra-hosts = { db = "10.0.0.1" }`},
		{"entitlements", `entitlements = ["security.insecure"]`},
	}
	for _, tt := range tests {
		t.Run(tt.attr, func(t *testing.T) {
			d := bakeTargetsIn(t, "target \"default\" {\n  "+tt.hcl+"\n}\n")
			_, err := planBakeTargets(d, io.Discard)
			want := `docker-bake.hcl: target "default": attribute "` + tt.attr + `" is not supported by hush yet`
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want it to contain %q", err, want)
			}
		})
	}
	t.Run("honoured", func(t *testing.T) {
		d := bakeTargetsIn(t, `target "default" {
  platforms = ["`+bake.LocalPlatform()+`"]
  pull      = false
  call      = "build"
  network   = "none"
  output    = ["type=local,dest=out"]
  cache-from = ["user/app:cache", "type=local,src=cache"]
  cache-to   = ["type=registry,ref=user/app:cache,mode=max", "type=inline"]
}`)
		targets, err := planBakeTargets(d, io.Discard)
		if err != nil {
			t.Fatalf("a target hush can build: %v", err)
		}
		c := targets[0].cache
		if len(c.from) != 2 || c.from[0].Ref != "user/app:cache" || c.from[1].Src != "cache" || len(c.to) != 2 || !c.to[0].Max {
			t.Errorf("cache specs %+v", c)
		}
	})
	t.Run("bad cache attribute", func(t *testing.T) {
		d := bakeTargetsIn(t, "target \"default\" {\n  cache-to = [\"type=gha\"]\n}\n")
		_, err := planBakeTargets(d, io.Discard)
		if err == nil || !strings.Contains(err.Error(), `target "default": --cache-to type=gha: not supported by hush`) {
			t.Fatalf("error %v", err)
		}
	})
}

// TestBakeEntitlements: what a build reads or writes outside the working directory, the
// host network and the default ssh agent need --allow, as in buildx.
func TestBakeEntitlements(t *testing.T) {
	outside := t.TempDir()
	secretFile := filepath.Join(outside, "npmrc")
	os.WriteFile(secretFile, []byte("x"), 0o600)
	resolved, _ := filepath.EvalSymlinks(outside)
	tests := []struct {
		name  string
		hcl   string
		allow []string
		want  string // "" when allowed
	}{
		{"inside the working directory", `secret = ["id=a,src=a.txt"]`, nil, ""},
		{"secret outside", `secret = ["id=a,src=` + secretFile + `"]`, nil, `--allow=fs.read=` + filepath.Join(resolved, "npmrc")},
		{"secret outside allowed", `secret = ["id=a,src=` + secretFile + `"]`, []string{"fs.read=" + outside}, ""},
		{"any path", `secret = ["id=a,src=` + secretFile + `"]`, []string{"fs=*"}, ""},
		{"output outside", `output = ["type=local,dest=` + outside + `/out"]`, nil, `--allow=fs.write=` + filepath.Join(resolved, "out")},
		{"host network", `network = "host"`, nil, `--allow=network.host`},
		{"host network allowed", `network = "host"`, []string{"network.host"}, ""},
		{"default ssh agent", `ssh = ["default"]`, nil, `--allow=ssh`},
		{"default ssh agent allowed", `ssh = ["default"]`, []string{"ssh"}, ""},
		{"local cache inside", `cache-to = ["type=local,dest=c"]` + "\n" + `cache-from = ["type=local,src=c"]`, nil, ""},
		{"local cache export outside", `cache-to = ["type=local,dest=` + outside + `/c"]`, nil, `--allow=fs.write=` + filepath.Join(resolved, "c")},
		{"local cache import outside", `cache-from = ["type=local,src=` + outside + `"]`, nil, `--allow=fs.read=` + resolved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := bakeTargetsIn(t, "target \"default\" {\n  "+tt.hcl+"\n}\n")
			targets, err := planBakeTargets(d, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var msg bytes.Buffer
			err = checkEntitlements(targets, tt.allow, &msg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "additional privileges requested")):
				t.Fatalf("error %v, want additional privileges naming %q", err, tt.want)
			case tt.want != "" && !strings.Contains(msg.String(), "requesting privileges"):
				t.Errorf("nothing explained on stderr: %q", msg.String())
			}
		})
	}
	if _, err := parseAllow([]string{"security.insecure"}); err == nil {
		t.Error("--allow security.insecure was accepted; hush cannot grant it")
	}
}

// TestMissingSecret names what is missing for each way a secret names its source.
func TestMissingSecret(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("present.txt", []byte("x"), 0o600)
	t.Setenv("HUSH_TEST_SET", "x")
	tests := []struct {
		s    bake.Secret
		want string
	}{
		{bake.Secret{ID: "a", FilePath: "present.txt"}, ""},
		{bake.Secret{ID: "a", FilePath: "absent.txt"}, `secret "a": src absent.txt does not exist`},
		{bake.Secret{ID: "a", Env: "HUSH_TEST_SET"}, ""},
		{bake.Secret{ID: "a", Env: "HUSH_TEST_UNSET"}, `secret "a": environment variable HUSH_TEST_UNSET is not set`},
		{bake.Secret{ID: "HUSH_TEST_SET"}, ""},
		{bake.Secret{ID: "present.txt"}, ""},
		{bake.Secret{ID: "HUSH_TEST_UNSET"}, `secret "HUSH_TEST_UNSET": environment variable HUSH_TEST_UNSET is not set and file HUSH_TEST_UNSET does not exist`},
	}
	for _, tt := range tests {
		err := missingSecret(&tt.s)
		if (err == nil) != (tt.want == "") || (err != nil && err.Error() != tt.want) {
			t.Errorf("%+v: %v, want %q", tt.s, err, tt.want)
		}
	}
}

// TestBakePushOutput: --push (*.push=true) makes each target's output a pushed image, as
// in buildx; a target's registry output pushes too.
func TestBakePushOutput(t *testing.T) {
	d := bakeTargetsIn(t, `target "a" { tags = ["example/a"] }
target "b" {
  tags   = ["example/b"]
  output = ["type=registry"]
}
group "default" { targets = ["a", "b"] }`, "*.push=true")
	targets, err := planBakeTargets(d, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, bt := range targets {
		if len(bt.outs) != 1 || bt.outs[0].Type != "image" || !bt.outs[0].Push {
			t.Errorf("target %s: outputs %+v, want one pushed image", bt.name, bt.outs)
		}
	}
}
