package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/registry/registrytest"
	"github.com/hush-build/hush/internal/secretfile"
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
			r := auditReport(t, out)
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

// auditFindings is the part of a JSON audit report the tests check.
type auditFindings struct {
	Findings []struct {
		Secret   string
		Location struct{ Kind, Field string }
	}
}

func auditReport(t *testing.T, out string) auditFindings {
	t.Helper()
	var r auditFindings
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	return r
}

// TestAuditRegistryRef audits an image that only a registry holds, behind TLS (a test CA)
// and htpasswd auth, with the credential path build and push use: --registry-auth (a
// config.json, or an age-encrypted one decrypted in memory), or the docker config's
// credHelpers under an "https://host/" key answered by a real docker-credential-* helper.
// Without credentials, or with a wrong password, the error names the registry and the
// source, never a password.
func TestAuditRegistryRef(t *testing.T) {
	requireHush(t)
	stamp := time.Now().Format("150405.000000000")
	pass, wrong := "CANARY-auditreg-"+stamp, "CANARY-auditwrong-"+stamp
	token := "CANARY-audittoken-" + stamp
	srv := registrytest.Start(t, map[string]string{"ci": pass, "helperuser": pass})
	authJSON := func(p string) string {
		return `{"auths":{"https://` + srv.Host + `/":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("ci:"+p)) + `"}}}`
	}

	pusher := hushtest.NewEnv(t, hushBin)
	pushAuth := pusher.WriteFile("auth.json", authJSON(pass))
	pusher.WriteFile("ctx/Dockerfile", "FROM busybox\nENV TOKEN="+token+"\n")
	ref := srv.Host + "/team/leaky:1"
	if out, log, code := pusher.Run("build", "--progress=plain", "--push", "-t", ref, "--registry-auth", pushAuth,
		"--registry-ca", srv.CAFile, filepath.Join(pusher.Dir, "ctx")); code != 0 {
		t.Fatalf("build --push: exit %d\n%s%s", code, out, log)
	}
	if err := os.Remove(pushAuth); err != nil {
		t.Fatal(err)
	}

	// A fresh state dir: the image is not in its store, so audit must fetch it.
	e := hushtest.NewEnv(t, hushBin)
	helpers, err := filepath.Abs("../../internal/registry/testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", helpers+":"+os.Getenv("PATH"))
	t.Setenv("HELPER_SECRET", pass)
	t.Setenv("HUSH_AUDIT_TOKEN", token)
	emptyConfig := filepath.Join(e.Dir, "docker-empty")
	helperConfig := filepath.Dir(e.WriteFile("docker-helpers/config.json", `{"credHelpers":{"https://`+srv.Host+`/":"test"}}`))
	good := e.WriteFile("auth.json", authJSON(pass))
	bad := e.WriteFile("wrong.json", authJSON(wrong))
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identity := e.WriteFile("identity", id.String()+"\n")
	sealed := good + ".age"
	if err := secretfile.WriteEncrypted(sealed, []byte(authJSON(pass)), 0o600, id.Recipient()); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUSH_IDENTITY_FILE", identity)

	audit := []string{"audit", "--format", "json", "--secret", "id=token,env=HUSH_AUDIT_TOKEN", "--registry-ca", srv.CAFile}
	cases := []struct {
		name         string
		dockerConfig string
		args         []string
		code         int
		wantErr      string
	}{
		{"--registry-auth", emptyConfig, []string{"--registry-auth", good}, 1, ""},
		{"age-encrypted --registry-auth", emptyConfig, []string{"--registry-auth", sealed}, 1, ""},
		{"docker config credHelpers", helperConfig, nil, 1, ""},
		{"no credentials", emptyConfig, nil, 2, "registry " + srv.Host + " wants credentials and none were found"},
		{"wrong password", emptyConfig, []string{"--registry-auth", bad}, 2, "registry " + srv.Host + " refused the credentials from --registry-auth " + bad},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DOCKER_CONFIG", tc.dockerConfig)
			out, errOut, code := e.Run(append(append(append([]string{}, audit...), tc.args...), ref)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, c := range []string{pass, wrong, token} {
				if strings.Contains(out+errOut, c) {
					t.Fatalf("output shows a secret:\n%s\n%s", out, errOut)
				}
			}
			if tc.wantErr != "" {
				if !strings.Contains(errOut, tc.wantErr) {
					t.Errorf("stderr does not say %q:\n%s", tc.wantErr, errOut)
				}
				return
			}
			r := auditReport(t, out)
			if len(r.Findings) == 0 || r.Findings[0].Secret != "token" {
				t.Errorf("findings %+v, want the token in the pulled image", r.Findings)
			}
		})
	}
	for _, f := range []string{good, bad, sealed, identity} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{pass, wrong} {
		e.NoCanary([]byte(c), srv.Dir)
		pusher.NoCanary([]byte(c))
	}
}
