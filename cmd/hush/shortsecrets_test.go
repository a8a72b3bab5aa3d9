package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestShortSecrets: a 3-byte secret from --secret-env-file next to a long canary. The
// build warns naming the short id, counts honestly in the self-audit line, leaves words
// that merely contain the short value alone while masking it where it stands alone, and
// still masks and audits the canary. `hush audit` skips the short secret with a warning on
// stderr and exits by what it found; with only short secrets it has nothing to search for.
func TestShortSecrets(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	short := shortValue(t)
	canary := "CANARY-short-" + rand.Text()
	envFile := env.WriteFile("secrets.env", "PIN="+short+"\n")
	tok := env.WriteFile("tok", canary)
	secrets := []string{"--secret-env-file", envFile, "--secret", "id=tok,src=" + tok}
	builds := 0
	build := func(dockerfile string, args ...string) (string, int) {
		t.Helper()
		builds++
		dir := filepath.Dir(env.WriteFile(fmt.Sprintf("ctx%d/Dockerfile", builds), "FROM busybox\n"+dockerfile+"\n"))
		_, log, code := env.Run(append(append([]string{"build", "--progress=plain"}, args...), dir)...)
		if strings.Contains(log, canary) {
			t.Errorf("canary in the build log:\n%s", log)
		}
		return log, code
	}

	log, code := build(`RUN --mount=type=secret,id=PIN --mount=type=secret,id=tok sh -c 'v=$(cat /run/secrets/PIN); `+
		`echo "words: re${v}ed ${v}s _${v} ${v}9"; echo "pin: $v."; echo "tok=$(cat /run/secrets/tok)"'`, secrets...)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, log)
	}
	for _, want := range []string{
		`secret "PIN" is shorter than 6 bytes: too short to audit or mask reliably; it is masked only as a whole word`,
		"auditing every layer of the build and its state for 1 of 2 secret values (1 too short to audit)",
		"words: re" + short + "ed " + short + "s _" + short + " " + short + "9",
		"pin: ****.", "tok=****",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("build log lacks %q:\n%s", want, log)
		}
	}

	// Both values leak into a layer: the audit reports the canary, and only the canary.
	log, code = build(`RUN --mount=type=secret,id=PIN --mount=type=secret,id=tok sh -c 'cp /run/secrets/PIN /pin; cp /run/secrets/tok /tok'`,
		append(secrets, "--audit=warn", "-t", "leaky")...)
	if code != 0 || !strings.Contains(log, "audit found 1 secret leak(s)") || !strings.Contains(log, "secret tok (raw) in layer") {
		t.Fatalf("leaky build: exit %d, want the canary's leak alone\n%s", code, log)
	}
	out, errOut, code := env.Run(append(append([]string{"audit", "--format", "json"}, secrets...), "leaky")...)
	if code != 1 || !strings.Contains(errOut, `WARNING: secret "PIN" is shorter than 6 bytes`) {
		t.Fatalf("audit: exit %d, want 1 and a warning naming PIN\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var rep struct {
		Skipped  []string
		Findings []struct{ Secret string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if strings.Join(rep.Skipped, ",") != "PIN" || len(rep.Findings) == 0 {
		t.Errorf("report: skipped %v, %d finding(s); want PIN skipped and the canary found", rep.Skipped, len(rep.Findings))
	}
	for _, f := range rep.Findings {
		if f.Secret != "tok" {
			t.Errorf("finding for %q: a short secret must not be searched for", f.Secret)
		}
	}
	if strings.Contains(out+errOut, canary) {
		t.Errorf("audit output shows the canary")
	}

	// Only short secrets: nothing can be audited, and both commands say so.
	_, errOut, code = env.Run("audit", "--secret-env-file", envFile, "leaky")
	if code != 2 || !strings.Contains(errOut, "every secret is shorter than 6 bytes (PIN)") {
		t.Errorf("audit with only a short secret: exit %d, want 2\n%s", code, errOut)
	}
	log, code = build("RUN --mount=type=secret,id=PIN true", "--secret-env-file", envFile)
	if code != 0 || !strings.Contains(log, "not auditing the image: every secret value (1) is shorter than 6 bytes") {
		t.Errorf("build with only a short secret: exit %d\n%s", code, log)
	}
}

// shortValue is 3 random letters from "jqxz", so that it is no word the log holds anyway.
func shortValue(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = "jqxz"[b[i]%4]
	}
	return string(b)
}
