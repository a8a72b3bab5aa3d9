package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestLeakInAnIntermediateStage: a builder stage copies the secret into a file, and the
// target copies only another file from it. The layer is still in the cache, so the self-audit must fail
// the build naming the stage, the step, the path and the secret, and purge the layer: a
// later --target builder build without the secret must not reuse it, and no copy of the
// value may stay anywhere in the state dir.
func TestLeakInAnIntermediateStage(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	canary := "CANARY-stage-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 12))
	e.WriteFile("ctx/Dockerfile", `FROM busybox AS builder
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /leak || true
RUN echo built > /artifact

FROM busybox
COPY --from=builder /artifact /artifact
`)
	cmd := e.Command("build", "--progress=plain", "--secret", "id=tok,env=TOK", "-t", "leaky", "ctx")
	cmd.Env = append(cmd.Env, "TOK="+canary)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a build whose builder stage leaked its secret succeeded:\n%s", out)
	}
	log := string(out)
	for _, want := range []string{"secret tok", "/leak", "stage builder", "Dockerfile:2", "was removed from hush's cache"} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit failure does not say %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, canary) {
		t.Error("the build log shows the secret")
	}
	if strings.Contains(log, "STILL PRESENT") {
		t.Errorf("the purge left something behind:\n%s", log)
	}
	if images, _, _ := e.Run("images"); strings.Contains(images, "leaky") {
		t.Errorf("the leaking build was published:\n%s", images)
	}
	// The same stage without the secret: the leaking step must run again, not come from
	// the cache, and nothing may hold the value.
	out2, errOut2, code := e.Run("build", "--progress=plain", "--target", "builder", "-t", "builder-only", "ctx")
	if code != 0 {
		t.Fatalf("building the stage without the secret: exit %d\n%s%s", code, out2, errOut2)
	}
	if regexp.MustCompile(`RUN --mount=type=secret,id=tok cat[^\n]*\n#\d+ CACHED`).MatchString(errOut2) {
		t.Errorf("the purged layer was reused from the cache:\n%s", errOut2)
	}
	e.NoCanary([]byte(canary))
}

// TestLeakInACacheMount: a step copies its secret into a cache mount. The audit fails the
// build and removes the file from the mount, so the next build without the secret passes
// instead of failing forever on the old leak.
func TestLeakInACacheMount(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	canary := "CANARY-cachemount-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 12))
	e.WriteFile("ctx/Dockerfile", `FROM busybox
RUN --mount=type=secret,id=tok --mount=type=cache,target=/cache cp /run/secrets/tok /cache/leak && echo kept > /cache/other
`)
	cmd := e.Command("build", "--progress=plain", "--secret", "id=tok,env=TOK", "ctx")
	cmd.Env = append(cmd.Env, "TOK="+canary)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a build that left its secret in a cache mount succeeded:\n%s", out)
	}
	if !regexp.MustCompile(`cachemounts/[0-9a-f]+/leak was removed`).Match(out) {
		t.Errorf("the failure does not say the leaking file was removed from the cache mount:\n%s", out)
	}
	e.NoCanary([]byte(canary))
	// Another secret this time: the old leak is gone, so this build passes.
	e.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=cache,target=/cache cat /cache/other\n")
	cmd = e.Command("build", "--progress=plain", "--secret", "id=other,env=OTHER", "ctx")
	cmd.Env = append(cmd.Env, "OTHER=another-secret-value-"+base64.RawURLEncoding.EncodeToString(randBytes(t, 8)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the next build still fails:\n%s", out)
	}
}

// TestAuditLedger: a fully cached rebuild with the same secret reads no layer again; a new
// secret value makes the audit read every layer once more.
func TestAuditLedger(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	e.WriteFile("ctx/Dockerfile", "FROM busybox AS a\nRUN echo a > /a\nFROM busybox\nRUN echo b > /b\n")
	build := func(value string) string {
		t.Helper()
		cmd := e.Command("build", "--progress=plain", "--target", "a", "--secret", "id=tok,env=TOK", "ctx")
		cmd.Env = append(cmd.Env, "TOK="+value)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		return string(out)
	}
	first := "first-secret-value-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 8))
	if out := build(first); !regexp.MustCompile(`[1-9]\d* layer\(s\) read, 0 already audited clean`).MatchString(out) {
		t.Errorf("first build should read every layer:\n%s", out)
	}
	if out := build(first); !regexp.MustCompile(` 0 layer\(s\) read, [1-9]\d* already audited clean`).MatchString(out) {
		t.Errorf("a cached rebuild with the same secret should read no layer:\n%s", out)
	}
	if out := build("second-secret-value-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 8))); !regexp.MustCompile(`[1-9]\d* layer\(s\) read, 0 already audited clean`).MatchString(out) {
		t.Errorf("a new secret value should make the audit read every layer again:\n%s", out)
	}
	// The ledger's key lives on the tmpfs only: a copy of the state dir cannot check
	// guesses of the values against the ledger.
	if keys, _ := filepath.Glob(filepath.Join(e.Shm, "hush-keys", "ledger-*")); len(keys) != 1 {
		t.Errorf("ledger keys on the tmpfs: %v, want one", keys)
	}
	if err := filepath.WalkDir(e.Root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "ledger-") {
			t.Errorf("a ledger key is in the state dir: %s", p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestPurgeReportsWhatStays: a leaking layer that a tagged image still uses cannot be
// removed; the failure says it is still present, where, and why.
func TestPurgeReportsWhatStays(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	canary := "CANARY-stays-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 12))
	e.WriteFile("leaky/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=tok cp /run/secrets/tok /leak\n")
	cmd := e.Command("build", "--progress=plain", "--audit=off", "--secret", "id=tok,env=TOK", "-t", "leaky", "leaky")
	cmd.Env = append(cmd.Env, "TOK="+canary)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the leaky base with --audit=off: %v\n%s", err, out)
	}
	e.WriteFile("child/Dockerfile", "FROM leaky\nRUN echo child\n")
	cmd = e.Command("build", "--progress=plain", "--secret", "id=tok,env=TOK", "-t", "child", "child")
	cmd.Env = append(cmd.Env, "TOK="+canary)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a build on a leaking base succeeded:\n%s", out)
	}
	if !regexp.MustCompile(`layer sha256:[0-9a-f]+ is STILL PRESENT: .*blob still at \S+/blobs/sha256/[0-9a-f]+ \(a tagged image uses it`).Match(out) {
		t.Errorf("the failure does not say which layer stays, where and why:\n%s", out)
	}
}

// TestLeakInAFailedOrKilledBuild: a step copies the secret into its layer, then the build
// fails (or is killed with SIGKILL) before its audit. The leaking layer must not stay on
// disk, and a later build of the same step without the secret must not reuse it.
func TestLeakInAFailedOrKilledBuild(t *testing.T) {
	for _, kill := range []bool{false, true} {
		name := map[bool]string{false: "failed", true: "killed"}[kill]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			requireHush(t)
			e := hushtest.NewEnv(t, hushBin)
			canary := "CANARY-" + name + "-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 12))
			last := "RUN false"
			if kill {
				last = "RUN echo second-step-started && sleep 60"
			}
			e.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=tok cp /run/secrets/tok /leak || true\n"+last+"\n")
			ctxDir := filepath.Join(e.Dir, "ctx") // absolute: names this test's hush processes
			cmd := e.Command("build", "--progress=plain", "--secret", "id=tok,env=TOK", ctxDir)
			cmd.Env = append(cmd.Env, "TOK="+canary)
			if kill {
				var pids []int
				killWhenPrinted(t, cmd, "second-step-started", func() { pids = processesWithArg(ctxDir) })
				// The hush inside its namespaces dies of the kill too, a moment later;
				// until then it holds its lease, and a sweep rightly leaves its layers.
				waitFor(t, 10*time.Second, func() bool { return allDead(pids) }, "the killed build's processes to exit")
			} else if out, err := cmd.CombinedOutput(); err == nil {
				t.Fatalf("the build should fail:\n%s", out)
			}
			// The next command sweeps what a killed build left.
			if out, errOut, code := e.Run("images"); code != 0 {
				t.Fatalf("hush images: %d\n%s%s", code, out, errOut)
			}
			e.NoCanary([]byte(canary))
			e.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=tok cp /run/secrets/tok /leak || true\n")
			_, errOut, code := e.Run("build", "--progress=plain", "ctx")
			if code != 0 {
				t.Fatalf("rebuilding the first step: %d\n%s", code, errOut)
			}
			if regexp.MustCompile(`cp /run/secrets/tok /leak[^\n]*\n#\d+ CACHED`).MatchString(errOut) {
				t.Errorf("the unaudited layer was reused from the cache:\n%s", errOut)
			}
		})
	}
}

// killWhenPrinted starts cmd and SIGKILLs it (only it, as a user's kill -9 would) once its
// stderr shows marker, calling before just before the kill.
func killWhenPrinted(t *testing.T, cmd *exec.Cmd, marker string, before func()) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), marker) {
				once = true
				close(seen)
			}
		}
	}()
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the build never printed %q", marker)
	}
	before()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// TestNoPlainHashOfASecretFile: a secret read from a file in the build context must not
// leave a plain SHA-256 of its content in hush's context-file sum cache (anyone with the
// state dir could check guesses against it).
func TestNoPlainHashOfASecretFile(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	value := "token-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 12))
	e.WriteFile("ctx/token.txt", value)
	e.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=bind,target=/src --mount=type=secret,id=tok ls /src\n")
	time.Sleep(2100 * time.Millisecond) // past the window in which fresh files are not cached
	if out, errOut, code := e.Run("build", "--progress=plain", "--secret", "id=tok,src=ctx/token.txt", "ctx"); code != 0 {
		t.Fatalf("build: %d\n%s%s", code, out, errOut)
	}
	sum := sha256.Sum256([]byte(value))
	b, _ := os.ReadFile(filepath.Join(e.Root, "contentsums.json"))
	if len(b) == 0 {
		t.Fatal("no context-file sums were cached: the test does not exercise the cache")
	}
	if strings.Contains(string(b), hex.EncodeToString(sum[:])) {
		t.Errorf("the sum cache holds the plain SHA-256 of the secret file")
	}
}

// processesWithArg lists the processes with arg among their arguments.
func processesWithArg(arg string) []int {
	var pids []int
	matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if a == arg {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(m)))
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// allDead reports whether every pid is gone or a zombie (its files, locks included, are
// released by then; an empty cmdline comes earlier, before the files are).
func allDead(pids []int) bool {
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 0 && fields[0] != "Z" && fields[0] != "X" {
			return false
		}
	}
	return true
}
