package lint

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/buildcontext"
	"github.com/hush-build/hush/internal/dockerfile"
)

var update = flag.Bool("update", false, "rewrite testdata/*/expected.golden")

// readOptions reads testdata/<case>/options: lines "secret ID=VALUE" and
// "build-arg KEY=VALUE" ("\n" in a value is a newline).
func readOptions(t *testing.T, dir string) Options {
	opts := Options{Secrets: map[string][]byte{}, BuildArgs: map[string]string{}}
	f, err := os.Open(filepath.Join(dir, "options"))
	if os.IsNotExist(err) {
		return opts
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, kv, _ := strings.Cut(sc.Text(), " ")
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		v = strings.ReplaceAll(v, `\n`, "\n")
		switch kind {
		case "secret":
			opts.Secrets[k] = []byte(v)
		case "build-arg":
			opts.BuildArgs[k] = v
		default:
			t.Fatalf("options: unknown line %q", sc.Text())
		}
	}
	return opts
}

func TestGolden(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 10 {
		t.Fatalf("only %d golden cases", len(entries))
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", e.Name())
			src, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			df, err := dockerfile.Parse("Dockerfile", bytes.NewReader(src))
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}
			opts := readOptions(t, dir)
			if opts.Context, err = buildcontext.Open(dir, ""); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			findings := Check(df, opts)
			for _, f := range findings {
				got.WriteString(f.String() + "\n")
				for id, v := range opts.Secrets {
					if strings.Contains(f.Message, strings.TrimSpace(string(v))) {
						t.Errorf("finding %s shows the value of secret %s", f.Rule, id)
					}
				}
			}
			golden := filepath.Join(dir, "expected.golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got.String() != string(want) {
				t.Errorf("findings differ from %s\n--- got\n%s--- want\n%s", golden, got.String(), want)
			}
		})
	}
}

func TestSensitiveNameMatchesBuildKit(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"GITHUB_TOKEN", true}, {"api_key", true}, {"AUTH", true}, {"secret_MESSAGE", true},
		{"DATABASE_PASSWORD", true}, {"MY_CREDENTIALS", true}, {"APIKEY", true},
		{"PUBLIC_KEY", false}, {"KEY_FILE", false}, {"TOKEN_VERSION", false},
		{"MONKEY", false}, {"TOKENS", false}, {"AUTHOR", false}, {"PATH", false},
	}
	for _, tt := range tests {
		if got := sensitiveName(tt.key); got != tt.want {
			t.Errorf("sensitiveName(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestCredentialKind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AKIAIOSFODNN7EXAMPLE", "an AWS access key id"},
		{"x-ghp_" + strings.Repeat("a1B2", 9), "a GitHub token"},
		{"glpat-" + strings.Repeat("x", 20), "a GitLab token"},
		{"xoxb-1234567890-abc", "a Slack token"},
		{"npm_" + strings.Repeat("Z9", 18), "an npm token"},
		{"-----BEGIN OPENSSH PRIVATE KEY-----", "a private key"},
		{"https://deploy:s3cr3t@git.example.com/x.git", "a URL with a password"},
		{"https://deploy:${TOKEN}@git.example.com/x.git", ""},
		{"AKIA-not-a-key", ""},
		{"ghp_short", ""},
		{"just text", ""},
	}
	for _, tt := range tests {
		if got := credentialKind(tt.in); got != tt.want {
			t.Errorf("credentialKind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCopiedBy(t *testing.T) {
	tests := []struct {
		pattern, rel string
		want         bool
	}{
		{"", "a/b/.env", true},
		{"a", "a/b/.env", true},
		{"a/b/.env", "a/b/.env", true},
		{"a/*", "a/b/.env", true},
		{"*.pem", "server.pem", true},
		{"*.pem", "certs/server.pem", false},
		{"b", "a/b/.env", false},
		{"src", "a/b/.env", false},
	}
	for _, tt := range tests {
		if _, got := copiedBy(tt.pattern, tt.rel); got != tt.want {
			t.Errorf("copiedBy(%q, %q) = %v, want %v", tt.pattern, tt.rel, got, tt.want)
		}
	}
}

// TestUnreadableContext checks a context that cannot be walked is reported, never
// silently treated as free of secrets. (Root reads mode-0 files, so the directory is
// removed instead.)
func TestUnreadableContext(t *testing.T) {
	dir := t.TempDir()
	df, err := dockerfile.Parse("Dockerfile", strings.NewReader("FROM scratch\nCOPY . /app\n"))
	if err != nil {
		t.Fatal(err)
	}
	bctx, err := buildcontext.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	fs := Check(df, Options{Context: bctx})
	if len(fs) != 1 || fs[0].Rule != RuleContextUnreadable {
		t.Fatalf("findings = %v, want one %s", fs, RuleContextUnreadable)
	}
	if HasErrors(fs) {
		t.Error("an unreadable context is a warning, not an error")
	}
}

// TestCheckBoundsExpansion: a Dockerfile whose ARGs grow 16x a line (up to 256 MiB)
// is checked without building the oversized values.
func TestCheckBoundsExpansion(t *testing.T) {
	src := "FROM scratch\nARG A=aaaaaaaaaaaaaaaa\n"
	for _, n := range "BCDEFG" {
		src += fmt.Sprintf("ARG %c=%s\n", n, strings.Repeat(fmt.Sprintf("$%c", n-1), 16))
	}
	src += "ENV H=$G$G\nRUN true\n"
	df, err := dockerfile.Parse("Dockerfile", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	findings := Check(df, Options{Secrets: map[string][]byte{"tok": []byte("not-in-the-file")}})
	runtime.ReadMemStats(&after)
	if len(findings) != 0 {
		t.Errorf("findings %v, want none", findings)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("checking allocated %d MiB", grew>>20)
	}
}

// TestCheckLeavesFileAsParsed: lint runs on the file the build then plans, so checking
// must not expand its instructions in place (the RUN mounts here would be rewritten).
func TestCheckLeavesFileAsParsed(t *testing.T) {
	const src = "FROM busybox\nARG T=rel/tok\nRUN --mount=type=secret,id=tok,target=$T true\n"
	parse := func() *dockerfile.File {
		df, err := dockerfile.Parse("Dockerfile", strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		return df
	}
	df := parse()
	fs := Check(df, Options{})
	if len(fs) != 1 || fs[0].Rule != RuleSecretTargetNotAbsolute || !strings.Contains(fs[0].Message, `"rel/tok"`) {
		t.Fatalf("findings = %v, want one %s naming the expanded target", fs, RuleSecretTargetNotAbsolute)
	}
	if !reflect.DeepEqual(df.Stages, parse().Stages) {
		t.Error("Check changed the parsed instructions")
	}
}
