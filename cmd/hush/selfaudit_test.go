package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestBuildSelfAudit: a Dockerfile that copies a secret into a layer (raw and base64)
// fails with --audit=fail (the default) and publishes nothing, and its leaking layers are
// purged from the cache; --audit=warn publishes with a warning; --audit=off does not look.
func TestBuildSelfAudit(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	tok := env.WriteFile("tok", "CANARY-selfaudit-4242")
	ctx := filepath.Join(env.Dir, "ctx")
	env.WriteFile("ctx/Dockerfile", "FROM busybox\n"+
		"RUN --mount=type=secret,id=tok cp /run/secrets/tok /leaked\n"+
		"RUN --mount=type=secret,id=tok base64 /run/secrets/tok > /leaked64\n")
	build := func(args ...string) (string, int) {
		_, e, code := env.Run(append([]string{"build", "--progress=plain", "--secret", "id=tok,src=" + tok, "-t", "leaky"}, args...)...)
		return e, code
	}
	log, code := build(ctx)
	if code == 0 {
		t.Fatalf("leaking build succeeded:\n%s", log)
	}
	for _, want := range []string{"audit found 2 secret leak(s); nothing was published", "secret tok (raw) in layer", "/leaked64", "removed from hush's cache"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if out, _, _ := env.Run("images"); strings.Contains(out, "leaky") {
		t.Errorf("a failed audit published the image:\n%s", out)
	}
	if log, _ := build(ctx); strings.Contains(log, "CACHED") {
		t.Errorf("a purged leaking layer was reused from the cache:\n%s", log)
	}
	log, code = build("--audit=warn", ctx)
	if code != 0 || !strings.Contains(log, "audit found 2 secret leak(s)") {
		t.Fatalf("--audit=warn: code %d\n%s", code, log)
	}
	if out, _, _ := env.Run("images"); !strings.Contains(out, "leaky") {
		t.Errorf("--audit=warn did not publish:\n%s", out)
	}
	log, code = build("--audit=off", ctx)
	if code != 0 || strings.Contains(log, "auditing") {
		t.Fatalf("--audit=off: code %d\n%s", code, log)
	}
	if strings.Contains(log, "CANARY-selfaudit-4242") {
		t.Error("canary in the build log")
	}
}

// TestAuditMasksValuesInPlaces: a secret that leaked into a file name is reported, and the
// report (text and JSON) names the place without showing the value.
func TestAuditMasksValuesInPlaces(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	canary := "CANARYinName4242"
	tok := env.WriteFile("tok", canary)
	env.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=tok touch /$(cat /run/secrets/tok).txt\n")
	if _, e, code := env.Run("build", "-q", "--audit=off", "--secret", "id=tok,src="+tok, "-t", "named", filepath.Join(env.Dir, "ctx")); code != 0 {
		t.Fatalf("build: %s", e)
	}
	for _, format := range []string{"text", "json"} {
		out, e, code := env.Run("audit", "--format", format, "--secret", "id=tok,src="+tok, "named")
		if code != 1 {
			t.Fatalf("%s: audit exit %d, want 1\n%s%s", format, code, out, e)
		}
		if strings.Contains(out+e, canary) {
			t.Errorf("%s report shows the value:\n%s", format, out)
		}
		if !strings.Contains(out, "****") {
			t.Errorf("%s report does not show the masked place:\n%s", format, out)
		}
	}
}
