package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// execute runs the CLI in-process with a state dir of the test's own.
func execute(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Execute(context.Background(), append([]string{"--root", t.TempDir()}, args...), &out, &errOut)
	if strings.Contains(errOut.String(), "goroutine ") {
		t.Errorf("a stack trace on stderr:\n%s", errOut.String())
	}
	return code, out.String(), errOut.String()
}

// TestUsageErrorExitCodes: a usage error (bad flag, argument count, flag value, command)
// exits non-zero before any work, with one ERROR line naming it; hush lint's usage errors
// exit 2 (docs/lint.md), every other command's 1 (README: 1 any failure). --help exits 0.
func TestUsageErrorExitCodes(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stderr     string
		wantStdout string
	}{
		{[]string{"build"}, 1, "ERROR: accepts 1 arg(s), received 0", ""},
		{[]string{"build", "--bogus", "."}, 1, "ERROR: unknown flag: --bogus", ""},
		{[]string{"build", "--audit", "strict", "."}, 1, `ERROR: --audit "strict": want fail, warn or off`, ""},
		{[]string{"build", "--network=bridge", "."}, 1, `ERROR: --network "bridge"`, ""},
		{[]string{"build", "--push", "."}, 1, "ERROR: --push: name the image with -t NAME", ""},
		{[]string{"build", "-o", "type=bogus", "."}, 1, `unsupported type "bogus"`, ""},
		{[]string{"nosuch"}, 1, `ERROR: unknown command "nosuch"`, ""},
		{[]string{"lint", "--bogus"}, 2, "ERROR: unknown flag: --bogus", ""},
		{[]string{"lint", "a", "b"}, 2, "ERROR: accepts at most 1 arg(s), received 2", ""},
		{[]string{"lint", "--format", "xml", "testdata/lint"}, 2, `ERROR: --format "xml": want text or json`, ""},
		{[]string{"lint", "--build-arg", "=v", "testdata/lint"}, 2, `ERROR: --build-arg "=v"`, ""},
		{[]string{"--help"}, 0, "", "Usage:"},
		{[]string{"build", "--help"}, 0, "", "--build-arg"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := execute(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if tt.stderr != "" && (!strings.Contains(stderr, tt.stderr) || strings.Count(stderr, "ERROR:") != 1) {
				t.Errorf("stderr %q, want one ERROR line with %q", stderr, tt.stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout %q, want %q", stdout, tt.wantStdout)
			}
		})
	}
}

// TestLintExitCodes runs hush lint on the fixtures in testdata/lint (the build context,
// with a .env file): 0 clean or warnings only, 1 error findings, 2 a Dockerfile that cannot
// be read or parsed. A finding about a secret's value never shows the value.
func TestLintExitCodes(t *testing.T) {
	const value = "lint-canary-5e8a0c1d93"
	t.Setenv("TOKEN_SRC", value)
	tests := []struct {
		args       []string
		code       int
		stdout     []string
		stderr     string
		wantSilent bool
	}{
		{args: []string{"-f", "testdata/lint/clean.Dockerfile"}, code: 0, wantSilent: true},
		{args: []string{"-f", "testdata/lint/warn.Dockerfile"}, code: 0,
			stdout: []string{"warn.Dockerfile:2: warning: SecretsUsedInArgOrEnv"}},
		{args: []string{"-f", "testdata/lint/strict.Dockerfile"}, code: 1,
			stdout: []string{"strict.Dockerfile:3: error: SecretsUsedInArgOrEnv"}},
		{args: []string{"-f", "testdata/lint/bad.Dockerfile", "--secret", "id=tok,env=TOKEN_SRC", "--build-arg", "NPM_TOK=" + value}, code: 1,
			stdout: []string{`bad.Dockerfile:2: error: SecretInBuildArg: --build-arg NPM_TOK holds the value of secret "tok"`,
				"bad.Dockerfile:4: error: CopySecretFile: COPY . would copy .env"}},
		{args: []string{"-f", "testdata/lint/bad.Dockerfile", "--format", "json"}, code: 1,
			stdout: []string{`"rule": "CopySecretFile"`, `"severity": "error"`}},
		{args: []string{"-f", "testdata/lint/clean.Dockerfile", "--format", "json"}, code: 0,
			stdout: []string{`"findings": []`}},
		{args: []string{"-f", "testdata/lint/missing.Dockerfile"}, code: 2, stderr: "missing.Dockerfile"},
		{args: []string{"-f", "testdata/lint/syntax.Dockerfile"}, code: 2, stderr: "syntax.Dockerfile:2"},
		{args: []string{"-f", "testdata/lint/clean.Dockerfile", "--secret", "id=tok,env=UNSET_LINT_VAR"}, code: 2,
			stderr: "UNSET_LINT_VAR"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := execute(t, append([]string{"lint"}, append(tt.args, "testdata/lint")...)...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout does not say %q:\n%s", want, stdout)
				}
			}
			if tt.wantSilent && stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want %q", stderr, tt.stderr)
			}
			if strings.Contains(stdout+stderr, value) {
				t.Errorf("the secret value was printed:\n%s%s", stdout, stderr)
			}
		})
	}
}
