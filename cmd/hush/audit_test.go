package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestAuditCLI builds images with and without a secret in ENV and checks `hush audit`'s
// exit status and report.
func TestAuditCLI(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	canary := "CANARY-audit-" + strings.Repeat("z9", 8) + "-" + filepath.Base(t.TempDir())
	t.Setenv("HUSH_AUDIT_TOKEN", canary)
	envFile := e.WriteFile("secrets.env", "# test secrets\nTOKEN=\""+canary+"\"\n")

	build := func(tag, dockerfile string) {
		t.Helper()
		dir := filepath.Join(e.Dir, tag)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := e.Run("build", "--progress=plain", "-t", tag, dir); code != 0 {
			t.Fatalf("build %s: exit %d\n%s\n%s", tag, code, out, errOut)
		}
	}
	build("leaky", "FROM busybox:latest\nENV TOKEN="+canary+"\n")
	build("clean", "FROM busybox:latest\nENV OTHER=nothing-to-see\n")

	cases := []struct {
		name  string
		args  []string
		code  int
		field string // config field of the finding, when code is 1
	}{
		{"leak via --secret env", []string{"audit", "--format", "json", "--secret", "id=token,env=HUSH_AUDIT_TOKEN", "leaky"}, 1, "config.Env[1]"},
		{"leak via --secret-env-file", []string{"audit", "--format", "json", "--secret-env-file", envFile, "leaky"}, 1, "config.Env[1]"},
		{"clean image", []string{"audit", "--format", "json", "--secret", "id=token,env=HUSH_AUDIT_TOKEN", "clean"}, 0, ""},
		{"clean image text", []string{"audit", "--secret", "id=token,env=HUSH_AUDIT_TOKEN", "clean"}, 0, ""},
		{"unknown image", []string{"audit", "--secret", "id=token,env=HUSH_AUDIT_TOKEN", "oci:" + filepath.Join(e.Dir, "nope")}, 2, ""},
		{"nothing to search for", []string{"audit", "clean"}, 2, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := e.Run(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if strings.Contains(out+errOut, canary) {
				t.Fatalf("output contains the secret value:\n%s\n%s", out, errOut)
			}
			if tc.code == 2 {
				if !strings.Contains(errOut, "ERROR:") {
					t.Errorf("stderr %q has no error", errOut)
				}
				return
			}
			if !strings.Contains(strings.Join(tc.args, " "), "json") {
				if !strings.Contains(out, "clean") {
					t.Errorf("text report %q does not say clean", out)
				}
				return
			}
			var r struct {
				Findings []struct {
					Secret   string
					Location struct{ Kind, Field string }
				}
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("report: %v\n%s", err, out)
			}
			if tc.code == 0 {
				if len(r.Findings) != 0 {
					t.Errorf("findings on a clean image: %+v", r.Findings)
				}
				return
			}
			// ENV leaks into the config and into the history's created_by.
			where := map[string]bool{}
			for _, f := range r.Findings {
				if strings.ToLower(f.Secret) == "token" {
					where[f.Location.Kind+" "+f.Location.Field] = true
				}
			}
			if !where["config "+tc.field] || !where["history created_by"] || len(r.Findings) != 2 {
				t.Errorf("findings %+v, want token in config %s and in history", r.Findings, tc.field)
			}
		})
	}
}
