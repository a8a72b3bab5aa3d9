package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// bakeFixture copies internal/bake/testdata/print/NAME (a definition whose --print golden
// came from buildx) into the environment's work dir and returns its path there.
func bakeFixture(t *testing.T, e *hushtest.Env, name string) string {
	t.Helper()
	dst := filepath.Join(e.Dir, name)
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("..", "..", "internal", "bake", "testdata", "print", name))); err != nil {
		t.Fatalf("copying the %s fixture: %v", name, err)
	}
	return dst
}

// runBake runs hush bake in dir with extra environment variables.
func runBake(t *testing.T, e *hushtest.Env, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := e.Command(append([]string{"bake"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return string(out), code
}

func canaryValue(t *testing.T, who string) string {
	return "CANARY-" + who + "-" + strings.Repeat("z9", 6) + "-" + filepath.Base(t.TempDir())
}

// TestBakeBuildsTargetsConcurrently builds the bake-build fixture: two targets from one
// docker-bake.hcl, in one process and at once, each with its own value for secret "tok"
// (a file for app, an environment variable for web) and its own local output. Each step
// sees its own target's value, the progress names each step by target, neither value is
// printed or left on disk, and each target's image is audited for its value.
func TestBakeBuildsTargetsConcurrently(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	dir := bakeFixture(t, e, "bake-build")
	appCanary, webCanary := canaryValue(t, "app"), canaryValue(t, "web")
	tokFile := filepath.Join(dir, "app.tok")
	if err := os.WriteFile(tokFile, []byte(appCanary), 0o600); err != nil {
		t.Fatal(err)
	}
	log, code := runBake(t, e, dir, []string{"WEB_TOKEN=" + webCanary}, "--progress=plain", "--set", "*.args.PAUSE=3", "--metadata-file", "md.json")
	if code != 0 {
		t.Fatalf("hush bake: exit %d\n%s", code, log)
	}
	for _, want := range []string{
		"app tok sha256 " + sum(appCanary), "web tok sha256 " + sum(webCanary),
		"[app 2/3] RUN --mount=type=secret,id=tok,required", "[web 2/3] RUN --mount=type=secret,id=tok,env=TOK,required",
		"[app] auditing every layer of the build and its state for 1 secret value(s)",
		"[web] auditing every layer of the build and its state for 1 secret value(s)",
		"web sees ****",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	// Concurrently: both steps started before either finished (each sleeps 3s).
	started := regexp.MustCompile(`(?m)^#\d+ \d+\.\d+ (app|web) started$`)
	done := regexp.MustCompile(`(?m)^#\d+ \d+\.\d+ (app|web) tok sha256`)
	if s, d := started.FindAllStringIndex(log, -1), done.FindStringIndex(log); len(s) != 2 || d == nil || s[1][0] > d[0] {
		t.Errorf("the two targets did not run at once (both must start before either finishes):\n%s", log)
	}
	for _, c := range []string{appCanary, webCanary} {
		if strings.Contains(log, c) {
			t.Errorf("a canary is in the output:\n%s", log)
		}
	}
	for target, want := range map[string]string{"app": "app\n", "web": "web\n"} {
		if b, err := os.ReadFile(filepath.Join(dir, "out", target, "which")); err != nil || string(b) != want {
			t.Errorf("output of %s: %q, %v; want %q", target, b, err, want)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "md.json"))
	if err != nil || !strings.Contains(string(md), `"app": {`) || !strings.Contains(string(md), `"web": {`) {
		t.Errorf("metadata file: %v\n%s", err, md)
	}
	os.Remove(tokFile)
	e.NoCanary([]byte(appCanary))
	e.NoCanary([]byte(webCanary))
}

// TestBakeFailingTarget: a target that fails fails the command, naming it; the target
// building beside it is stopped cleanly (no mount, no canary left), and the state dir is
// fine for the next bake.
func TestBakeFailingTarget(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	dir := bakeFixture(t, e, "bake-build")
	canary := canaryValue(t, "app")
	tokFile := filepath.Join(dir, "app.tok")
	if err := os.WriteFile(tokFile, []byte(canary), 0o600); err != nil {
		t.Fatal(err)
	}
	e.WriteFile("bake-build/bad/Dockerfile", "FROM busybox\nRUN echo failing && exit 3\n")
	e.WriteFile("bake-build/fail.hcl", `target "bad" { context = "bad" }
group "default" { targets = ["app", "bad"] }
`)
	log, code := runBake(t, e, dir, nil, "-f", "docker-bake.hcl", "-f", "fail.hcl", "--progress=plain", "--set", "app.args.PAUSE=30")
	if code != 1 {
		t.Fatalf("hush bake with a failing target: exit %d, want 1\n%s", code, log)
	}
	if !strings.Contains(log, `ERROR: target "bad": Dockerfile:2: process "/bin/sh -c echo failing && exit 3" did not complete successfully: exit code: 3`) {
		t.Errorf("the error does not name the failing target and step:\n%s", log)
	}
	if strings.Contains(log, `target "app"`) || regexp.MustCompile(`(?m)^#\d+ \d+\.\d+ app tok sha256`).MatchString(log) {
		t.Errorf("app was not stopped, or its cancellation is reported as a failure:\n%s", log)
	}
	if out, _, _ := e.Run("images"); strings.Contains(out, "example/app") {
		t.Errorf("the stopped target was published:\n%s", out)
	}
	log, code = runBake(t, e, dir, nil, "--progress=plain", "--set", "app.args.PAUSE=0", "app")
	if code != 0 {
		t.Fatalf("bake after the failed one: exit %d\n%s", code, log)
	}
	os.Remove(tokFile)
	e.NoCanary([]byte(canary))
}

// TestBakeComposeSecrets builds the compose-build fixture: build.secrets in the short
// form (top-level file:) and the long form (top-level environment:), each seen by its
// step, masked and not left on disk; a service without secrets sees none.
func TestBakeComposeSecrets(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	dir := bakeFixture(t, e, "compose-build")
	npmrc, gh := canaryValue(t, "npmrc"), canaryValue(t, "gh")
	secretFile := filepath.Join(dir, "npmrc.txt")
	if err := os.WriteFile(secretFile, []byte(npmrc), 0o600); err != nil {
		t.Fatal(err)
	}
	log, code := runBake(t, e, dir, []string{"GH_TOKEN=" + gh, "TAG=e2e"}, "--progress=plain")
	if code != 0 {
		t.Fatalf("hush bake: exit %d\n%s", code, log)
	}
	for _, want := range []string{"npmrc sha256 " + sum(npmrc), "gh_token sha256 " + sum(gh),
		"[api] auditing every layer of the build and its state for 2 secret value(s)", "[worker 2/2] RUN test ! -e /run/secrets/npmrc"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q\n%s", want, log)
		}
	}
	if out, _, _ := e.Run("images"); !strings.Contains(out, "example/api") || !strings.Contains(out, "e2e") || !strings.Contains(out, "example/worker") {
		t.Errorf("the compose images are not tagged as image: says (TAG from the environment):\n%s", out)
	}
	os.Remove(secretFile)
	e.NoCanary([]byte(npmrc))
	e.NoCanary([]byte(gh))
}

// TestBakeMissingSecret: a secret whose src does not exist, or whose variable is unset,
// fails before anything builds, naming the file, the target and the secret id.
func TestBakeMissingSecret(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	dir := bakeFixture(t, e, "bake-build")
	os.Remove(filepath.Join(dir, "app.tok"))
	log, code := runBake(t, e, dir, nil, "--progress=plain")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, log)
	}
	for _, want := range []string{
		`docker-bake.hcl: target "app": secret "tok": src app.tok does not exist`,
		`docker-bake.hcl: target "web": secret "tok": environment variable WEB_TOKEN is not set`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("error lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "#1 ") {
		t.Errorf("a step ran:\n%s", log)
	}
}

// TestBakeOptionalSecret: a missing secret the Dockerfile mounts with an explicit
// required=false does not fail the bake: the target builds without it, with a warning
// naming the file, target and secret; the same secret without required=false fails.
func TestBakeOptionalSecret(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	e.WriteFile("opt/ctx/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=maybe,required=false sh -c 'test -e /run/secrets/maybe && echo has-it || echo without-it'\n")
	e.WriteFile("opt/docker-bake.hcl", `target "default" {
  context = "ctx"
  secret  = ["id=maybe,src=absent.txt"]
}
`)
	dir := filepath.Join(e.Dir, "opt")
	log, code := runBake(t, e, dir, nil, "--progress=plain")
	if code != 0 || !strings.Contains(log, "without-it") ||
		!strings.Contains(log, `WARN: [default] docker-bake.hcl: target "default": secret "maybe": src absent.txt does not exist; the Dockerfile marks it optional (required=false): building without it`) {
		t.Fatalf("exit %d, want 0, a warning and the step run without the secret:\n%s", code, log)
	}
	e.WriteFile("opt/ctx/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=maybe true\n")
	log, code = runBake(t, e, dir, nil, "--progress=plain")
	if code != 1 || !strings.Contains(log, `docker-bake.hcl: target "default": secret "maybe": src absent.txt does not exist`) {
		t.Fatalf("without required=false: exit %d, want 1 and the error:\n%s", code, log)
	}
}
