package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
)

// generatorScript is a dockercfg generator following Codeship's contract: it
// writes a fresh legacy dockercfg to its last argument. It records its
// arguments in $GEN_RECORD; GEN_MODE changes its behaviour.
const generatorScript = `#!/bin/sh
for last; do :; done
printf '%s\n' "$@" >> "$GEN_RECORD"
echo "generator log line"
case "$GEN_MODE" in
fail)
	printf '{"%s":{"auth":"%s"}}' "$GEN_REGISTRY" "$GEN_AUTH" > "$last"
	echo "failing after writing $last" >&2
	exit 3 ;;
nothing)
	exit 0 ;;
empty)
	echo '{}' > "$last" ;;
*)
	printf '{"https://%s/":{"auth":"%s","email":"ci@example.com"}}' "$GEN_REGISTRY" "$GEN_AUTH" > "$last" ;;
esac
`

// writeGenerator writes generatorScript and returns its path and the file it
// records arguments to.
func writeGenerator(t testing.TB) (script, record string) {
	t.Helper()
	dir := t.TempDir()
	script = filepath.Join(dir, "gen.sh")
	if err := os.WriteFile(script, []byte(generatorScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, filepath.Join(dir, "record")
}

// recordedPaths returns the last argument of every recorded run.
func recordedPaths(t testing.TB, record string, argc int) []string {
	t.Helper()
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var out []string
	for i := argc - 1; i < len(lines); i += argc {
		out = append(out, lines[i])
	}
	return out
}

func TestGenerator(t *testing.T) {
	secret := "gen-canary-" + time.Now().Format("150405.000000")
	script, record := writeGenerator(t)
	shm, tmp := hushtest.ShmDir(t), t.TempDir()
	env := append(os.Environ(), "GEN_RECORD="+record, "GEN_REGISTRY=gen.example.com", "GEN_AUTH="+b64("genuser:"+secret), "TMPDIR="+tmp)
	var logs strings.Builder
	kc, err := ParseGenerator(script+` "two words" 'it''s'`, env, &logsWriter{&logs}, shm, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, err := authFor(t, kc, "gen.example.com/app:1")
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Username != "genuser" || got.Password != secret {
			t.Fatalf("auth = %+v, want genuser's", got)
		}
	}
	if got, err := authFor(t, kc, "other.example.com/app"); err != nil || got != nil {
		t.Errorf("other registry: auth = %+v, %v; want anonymous", got, err)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(args) != 3 || args[0] != "two words" || args[1] != "its" {
		t.Fatalf("generator ran with %q, want one run with [two words, its, PATH]", args)
	}
	out := args[2]
	if !strings.HasPrefix(out, shm+"/hush-regauth-") || filepath.Base(out) != "dockercfg" {
		t.Errorf("output path %s is not a private file under %s", out, shm)
	}
	if _, err := os.Stat(filepath.Dir(out)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("generator output dir %s still exists (err %v)", filepath.Dir(out), err)
	}
	if !strings.Contains(logs.String(), "generator log line") {
		t.Errorf("generator output not passed to logs: %q", logs.String())
	}
	hushtest.NoCanary(t, []byte(secret), shm, tmp, filepath.Dir(record))
}

// logsWriter hides strings.Builder's other methods.
type logsWriter struct{ b *strings.Builder }

func (w *logsWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

func TestGeneratorMaxAge(t *testing.T) {
	script, record := writeGenerator(t)
	g := &Generator{Args: []string{script}, MaxAge: time.Nanosecond, Dir: hushtest.ShmDir(t),
		Env: []string{"GEN_RECORD=" + record, "GEN_REGISTRY=gen.example.com", "GEN_AUTH=" + b64("a:b")}}
	for range 2 {
		if got, err := authFor(t, g, "gen.example.com/x"); err != nil || got == nil {
			t.Fatalf("auth = %+v, %v", got, err)
		}
	}
	if n := len(recordedPaths(t, record, 1)); n != 2 {
		t.Errorf("generator ran %d times with an expired MaxAge, want 2", n)
	}
}

func TestGeneratorErrors(t *testing.T) {
	const secret = "generr-canary"
	script, record := writeGenerator(t)
	base := []string{"GEN_RECORD=" + record, "GEN_REGISTRY=gen.example.com", "GEN_AUTH=" + b64("u:"+secret)}
	tests := []struct {
		mode    string
		wantErr string
	}{
		{"fail", "running registry auth generator gen.sh: exit status 3"},
		{"nothing", "running registry auth generator gen.sh: it wrote no dockercfg to the path in its last argument"},
		{"empty", "reading registry auth generator gen.sh output: no credentials in it"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			os.Remove(record)
			g := &Generator{Args: []string{script}, Env: append(base, "GEN_MODE="+tt.mode), Dir: hushtest.ShmDir(t)}
			_, err := authFor(t, g, "gen.example.com/x")
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			for _, p := range recordedPaths(t, record, 1) {
				if _, err := os.Stat(filepath.Dir(p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("output dir %s left behind after a failed run", filepath.Dir(p))
				}
			}
		})
	}
}

// TestTmpfsDirEnv: HUSH_TMPFS_DIR moves both the generator's output and the credential
// cache's key from /dev/shm; an explicit GeneratorDir wins over it.
func TestTmpfsDirEnv(t *testing.T) {
	script, record := writeGenerator(t)
	fromEnv, explicit := hushtest.ShmDir(t), hushtest.ShmDir(t)
	getenv := func(k string) string {
		if k == "HUSH_TMPFS_DIR" {
			return fromEnv
		}
		return ""
	}
	env := []string{"GEN_RECORD=" + record, "GEN_REGISTRY=gen.example.com", "GEN_AUTH=" + b64("u:p")}
	for i, c := range []Credentials{
		{Generator: script, Env: env, Getenv: getenv, NoUserConfig: true,
			Cache: &DiskCache{Dir: t.TempDir(), TTL: time.Minute}},
		{Generator: script, Env: env, Getenv: getenv, NoUserConfig: true, GeneratorDir: explicit},
	} {
		kc, err := c.Keychain()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := authFor(t, kc, "gen.example.com/app"); err != nil || got == nil {
			t.Fatalf("auth = %+v, %v", got, err)
		}
		want := []string{fromEnv, explicit}[i]
		if paths := recordedPaths(t, record, 1); !strings.HasPrefix(paths[i], want+"/hush-regauth-") {
			t.Errorf("credentials %d: generator output %s, want it under %s", i, paths[i], want)
		}
	}
	if keys, err := os.ReadDir(filepath.Join(fromEnv, "hush-keys")); err != nil || len(keys) != 1 {
		t.Errorf("cache key not under HUSH_TMPFS_DIR %s: %v %v", fromEnv, keys, err)
	}
}

func TestGeneratorRefusesPersistentDir(t *testing.T) {
	dir := hushtest.PersistentDir(t)
	script, record := writeGenerator(t)
	g := &Generator{Args: []string{script}, Dir: dir, Env: []string{"GEN_RECORD=" + record}}
	_, err := g.Run(context.Background())
	if !errors.Is(err, ErrNotTmpfs) {
		t.Fatalf("error = %v, want ErrNotTmpfs", err)
	}
	if _, err := os.Stat(record); !errors.Is(err, os.ErrNotExist) {
		t.Error("generator ran although its output dir is on a persistent disk")
	}
}

func TestParseGenerator(t *testing.T) {
	env, _ := helperEnv(t, "pg-canary")
	tests := []struct {
		spec    string
		wantErr error
		errText string
		check   func(t *testing.T, g any)
	}{
		{spec: "image:codeship/aws-ecr-dockercfg-generator", wantErr: ErrNoImageRunner},
		{spec: "  ", errText: "empty command"},
		{spec: "helper:", errText: "want helper:NAME"},
		{spec: "helper:a/b", errText: "want helper:NAME"},
		{spec: `gen "unterminated`, errText: "unterminated quote"},
		{spec: "helper:test", check: func(t *testing.T, g any) {
			kc, ok := g.(*Keychain)
			if !ok || kc.Config.CredentialsStore != "test" {
				t.Fatalf("got %#v, want a keychain asking docker-credential-test", g)
			}
		}},
		{spec: "/usr/bin/gen --region eu-west-1", check: func(t *testing.T, g any) {
			gen, ok := g.(*Generator)
			if !ok || !reflect.DeepEqual(gen.Args, []string{"/usr/bin/gen", "--region", "eu-west-1"}) {
				t.Fatalf("got %#v", g)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			kc, err := ParseGenerator(tt.spec, env, nil, "", nil, nil)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
			case tt.errText != "":
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("error = %v, want %q", err, tt.errText)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, kc)
			}
		})
	}
	kc, err := ParseGenerator("helper:test", env, nil, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := authFor(t, kc, "reg.example.com/x"); err != nil || got == nil || got.Password != "pg-canary" {
		t.Errorf("helper generator auth = %+v, %v", got, err)
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"gen", []string{"gen"}},
		{"  gen  a\tb\n", []string{"gen", "a", "b"}},
		{`gen "a b" 'c d'`, []string{"gen", "a b", "c d"}},
		{`gen a\ b`, []string{"gen", "a b"}},
		{`gen "x\"y" "\n" '\n'`, []string{"gen", `x"y`, `\n`, `\n`}},
		{`gen "" ''`, []string{"gen", "", ""}},
		{`gen $HOME`, []string{"gen", "$HOME"}},
		{`gen pre"mid"post`, []string{"gen", "premidpost"}},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "   ", `a "b`, `a 'b`, `a \`} {
		if got, err := SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q) = %q, want an error", bad, got)
		}
	}
}

// TestGeneratorOutputIsMasked: a generator that prints the token it fetched shows it
// masked, in any encoding docker uses.
func TestGeneratorOutputIsMasked(t *testing.T) {
	token := "gen-printed-token-" + time.Now().Format("150405.000000")
	dir := t.TempDir()
	script := filepath.Join(dir, "gen.sh")
	body := "#!/bin/sh\nfor last; do :; done\necho \"fetched $TOK\"\necho \"auth $(printf 'u:%s' \"$TOK\" | base64)\" >&2\n" +
		"printf '{\"auths\":{\"r.example.com\":{\"username\":\"u\",\"password\":\"%s\"}}}' \"$TOK\" > \"$last\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	kc, err := ParseGenerator(script, append(os.Environ(), "TOK="+token), &logsWriter{&logs}, hushtest.ShmDir(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := authFor(t, kc, "r.example.com/app"); err != nil || got == nil || got.Password != token {
		t.Fatalf("auth = %+v, %v", got, err)
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), b64("u:"+token)) || !strings.Contains(logs.String(), "fetched ****") {
		t.Errorf("generator output not masked:\n%s", logs.String())
	}
}
