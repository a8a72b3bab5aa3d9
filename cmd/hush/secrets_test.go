package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// secretCase is one row of the RUN --mount=type=secret conformance table: a Dockerfile,
// the flags, what the step must have seen, and paths that must not be in the image.
type secretCase struct {
	name       string
	dockerfile string
	flags      []string
	want       []string // substrings of the build log
	absent     []string // paths that must not exist in the exported rootfs
	fail       string   // when set, the build must fail with this in its output
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestSecretMountConformance(t *testing.T) {
	requireHush(t)
	canary := "CANARY-" + strings.Repeat("k3y", 7) + "-" + filepath.Base(t.TempDir())
	canarySum := sum(canary)
	cases := []secretCase{{
		name:       "default target file",
		dockerfile: "RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok; stat -c 'mode=%a uid=%u gid=%g' /run/secrets/tok",
		want:       []string{canarySum + "  /run/secrets/tok", "mode=400 uid=0 gid=0"},
		absent:     []string{"run/secrets", "run"},
	}, {
		name:       "target mode uid gid",
		dockerfile: "RUN --mount=type=secret,id=tok,target=/etc/app/token,mode=0440,uid=1000,gid=1000 sha256sum /etc/app/token; stat -c 'mode=%a uid=%u gid=%g' /etc/app/token",
		want:       []string{canarySum + "  /etc/app/token", "mode=440 uid=1000 gid=1000"},
		absent:     []string{"etc/app"},
	}, {
		name:       "env only leaves no file",
		dockerfile: "RUN --mount=type=secret,id=tok,env=TOK sh -c 'printf %s \"$TOK\" | sha256sum; test -e /run/secrets/tok && echo file=yes || echo file=no'",
		want:       []string{canarySum + "  -", "file=no"},
	}, {
		name:       "env and target together",
		dockerfile: "RUN --mount=type=secret,id=tok,env=TOK,target=/tok sh -c 'printf %s \"$TOK\" | sha256sum; sha256sum /tok'",
		want:       []string{canarySum + "  -", canarySum + "  /tok"},
		absent:     []string{"tok"},
	}, {
		name:       "id from target basename",
		dockerfile: "RUN --mount=type=secret,target=/run/secrets/tok sha256sum /run/secrets/tok",
		want:       []string{canarySum + "  /run/secrets/tok"},
	}, {
		name:       "source alias and ARG expansion",
		dockerfile: "ARG SID=tok\nRUN --mount=type=secret,source=$SID,target=/s sha256sum /s",
		want:       []string{canarySum + "  /s"},
	}, {
		name:       "relative target resolves from /",
		dockerfile: "WORKDIR /w\nRUN --mount=type=secret,id=tok,target=rel/tok sha256sum /rel/tok",
		want:       []string{canarySum + "  /rel/tok"},
		absent:     []string{"rel"},
	}, {
		name:       "optional missing leaves no file and env unset",
		dockerfile: "RUN --mount=type=secret,id=nope,env=NOPE sh -c 'echo \"nope=${NOPE-unset}\"; ls /run/secrets 2>&1 | head -1'",
		want:       []string{"nope=unset"},
		absent:     []string{"run"},
	}, {
		name:       "required missing fails before running, listing all",
		dockerfile: "RUN --mount=type=secret,id=a,required echo a\nRUN --mount=type=secret,id=b,required=true echo b\nRUN --mount=type=ssh,id=k,required echo k",
		fail:       "required build secrets not supplied: secret a (Dockerfile:2); secret b (Dockerfile:3); ssh k (Dockerfile:4)",
	}, {
		name:       "with cache and tmpfs mounts on one RUN",
		dockerfile: "RUN --mount=type=cache,target=/var/cache/app --mount=type=tmpfs,target=/scratch --mount=type=secret,id=tok,target=/scratch2/tok sh -c 'sha256sum /scratch2/tok; echo x > /var/cache/app/x; echo y > /scratch/y; echo done'",
		want:       []string{canarySum + "  /scratch2/tok", "done"},
		absent:     []string{"scratch", "scratch2", "var/cache"},
	}, {
		name:       "env-sourced secret",
		dockerfile: "RUN --mount=type=secret,id=fromenv,env=V sh -c 'printf %s \"$V\" | sha256sum'",
		flags:      []string{"--secret", "id=fromenv,env=HUSH_TEST_CANARY"},
		want:       []string{canarySum + "  -"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := hushtest.NewEnv(t, hushBin)
			secretFile := filepath.Join(env.Dir, "tok.txt")
			if err := os.WriteFile(secretFile, []byte(canary), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx := filepath.Join(env.Dir, "ctx")
			if err := os.MkdirAll(ctx, 0o755); err != nil {
				t.Fatal(err)
			}
			df := "FROM busybox\n" + tc.dockerfile + "\n"
			if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(env.Dir, "out")
			args := append([]string{"build", "--progress=plain", "--secret", "id=tok,src=" + secretFile}, tc.flags...)
			args = append(args, "-o", "type=local,dest="+out, ctx)
			cmd := env.Command(args...)
			cmd.Env = append(cmd.Env, "HUSH_TEST_CANARY="+canary)
			log, err := cmd.CombinedOutput()
			if tc.fail != "" {
				if err == nil || !strings.Contains(string(log), tc.fail) {
					t.Fatalf("want failure %q, got err=%v\n%s", tc.fail, err, log)
				}
				if strings.Contains(string(log), "#2 [") && strings.Contains(string(log), "RUN --mount") {
					t.Errorf("a step ran before the missing secrets were reported:\n%s", log)
				}
			} else {
				if err != nil {
					t.Fatalf("build failed: %v\n%s", err, log)
				}
				for _, w := range tc.want {
					if !strings.Contains(string(log), w) {
						t.Errorf("log lacks %q:\n%s", w, log)
					}
				}
				for _, a := range tc.absent {
					if _, err := os.Lstat(filepath.Join(out, a)); err == nil {
						t.Errorf("%s is in the image; mount stubs must not reach a layer", a)
					}
				}
			}
			if strings.Contains(string(log), canary) {
				t.Errorf("canary in the build log")
			}
			os.Remove(secretFile)
			env.NoCanary([]byte(canary))
		})
	}
}

// TestSecretRequiredOnCacheHit: a required secret missing on a rebuild fails even though
// every step would be a cache hit (BuildKit does not, buildkit#1136).
func TestSecretRequiredOnCacheHit(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	ctx := filepath.Join(env.Dir, "ctx")
	env.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=tok,required true\n")
	tok := env.WriteFile("tok", "CANARY-cachehit-0001")
	if o, e, code := env.Run("build", "-q", "--secret", "id=tok,src="+tok, ctx); code != 0 {
		t.Fatalf("first build: %d\n%s%s", code, o, e)
	}
	_, e, code := env.Run("build", "-q", ctx)
	if code == 0 || !strings.Contains(e, "required build secrets not supplied: secret tok") {
		t.Fatalf("rebuild without the secret: code %d, stderr:\n%s", code, e)
	}
}

// TestSecretRebuildOnChange: content changes re-run a step only with rebuild-on-change.
func TestSecretRebuildOnChange(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	ctx := filepath.Join(env.Dir, "ctx")
	env.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=tok date +%s%N > /stamp\n")
	tok := env.WriteFile("tok", "CANARY-v1-aaaaaaaa")
	build := func(spec string) string {
		t.Helper()
		_, e, code := env.Run("build", "--progress=plain", "--secret", spec, ctx)
		if code != 0 {
			t.Fatalf("build: %d\n%s", code, e)
		}
		return e
	}
	build("id=tok,src=" + tok + ",rebuild-on-change")
	if log := build("id=tok,src=" + tok + ",rebuild-on-change"); !strings.Contains(log, "CACHED") {
		t.Errorf("unchanged secret: step should be cached:\n%s", log)
	}
	env.WriteFile("tok", "CANARY-v2-bbbbbbbb")
	if log := build("id=tok,src=" + tok + ",rebuild-on-change"); strings.Contains(log, "CACHED") {
		t.Errorf("changed secret with rebuild-on-change: step should re-run:\n%s", log)
	}
	build("id=tok,src=" + tok)
	env.WriteFile("tok", "CANARY-v3-cccccccc")
	if log := build("id=tok,src=" + tok); !strings.Contains(log, "CACHED") {
		t.Errorf("changed secret without rebuild-on-change: step should stay cached:\n%s", log)
	}
	for _, c := range []string{"CANARY-v1-aaaaaaaa", "CANARY-v2-bbbbbbbb", "CANARY-v3-cccccccc"} {
		hushtest.NoCanary(t, []byte(c), env.Root)
	}
}
