package main

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestSelfAuditBigSecretWrappedAndGzipped: a 256 KiB secret (a CA bundle's size) written
// by a step as `base64` writes it (76-column lines) and gzipped are both found by the
// build's self-audit, the build fails, and the log never shows the value even though a
// step prints it whole.
func TestSelfAuditBigSecretWrappedAndGzipped(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	raw := make([]byte, 128<<10)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	canary := hex.EncodeToString(raw) // 256 KiB of text
	src := env.WriteFile("big", canary)
	env.WriteFile("ctx/Dockerfile", "FROM busybox\n"+
		"RUN --mount=type=secret,id=big base64 /run/secrets/big > /b64.txt\n"+
		"RUN --mount=type=secret,id=big gzip -c /run/secrets/big > /big.gz\n"+
		"RUN --mount=type=secret,id=big cat /run/secrets/big\n")
	_, log, code := env.Run("build", "--progress=plain", "--secret", "id=big,src="+src, "-t", "big", filepath.Join(env.Dir, "ctx"))
	if code == 0 {
		t.Fatalf("leaking build succeeded:\n%.3000s", log)
	}
	for _, want := range []string{"audit found 2 secret leak(s)", "/b64.txt", "/big.gz"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%.3000s", want, log)
		}
	}
	if strings.Contains(log, canary[:64]) || strings.Contains(log, canary[len(canary)-64:]) {
		t.Error("the value printed by a step is in the build log")
	}
}
