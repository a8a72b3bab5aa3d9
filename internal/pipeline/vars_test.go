package pipeline

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestVarsFromGit: the build variables come from the repository's git state; --ci-* flags
// override them one by one.
func TestVarsFromGit(t *testing.T) {
	hushtest.RequireBinary(t, "git")
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=Jane Doe", "-c", "user.email=jane@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "feature/x")
	git("commit", "-q", "--allow-empty", "-m", "Add the thing")
	git("tag", "v1.0.0")
	git("commit", "-q", "--allow-empty", "-m", "More")
	head := git("rev-parse", "HEAD")
	v := Vars(context.Background(), dir, CI{})
	if v.Branch != "feature/x" || v.CommitID != head || v.CommitMessage != "More" || v.CommitterName != "Jane Doe" ||
		v.CommitterEmail != "jane@example.com" || !strings.HasPrefix(v.CommitDescription, "v1.0.0-1-g") || v.BuildID == "" {
		t.Errorf("from git: %+v", v)
	}
	o := Vars(context.Background(), dir, CI{Branch: "main", CommitID: "abc", CommitMessage: "m", BuildID: "b1"})
	if o.Branch != "main" || o.CommitID != "abc" || o.CommitMessage != "m" || o.BuildID != "b1" || o.CommitterName != "Jane Doe" {
		t.Errorf("overrides: %+v", o)
	}
	env := strings.Join(o.Env(), "\n")
	for _, want := range []string{"CI=true", "CI_BRANCH=main", "CI_COMMIT_ID=abc", "CI_BUILD_ID=b1", "CI_COMMITTER_NAME=Jane Doe"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("CI env lacks %s:\n%s", want, env)
		}
	}
}
