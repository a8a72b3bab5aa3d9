package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hush-build/hush/internal/codeship"
)

// CI overrides the build variables hush otherwise reads from the repository's git state
// (the --ci-* flags); an empty field keeps what git says.
type CI struct {
	Branch, CommitID, CommitMessage, CommitDescription string
	CommitterName, CommitterEmail, CommitterUsername   string
	BuildID, ProjectID, RepoName                       string
}

// Vars are the build's variables: git's state of dir (when it is a work tree), then the
// overrides. BuildID is random unless given; the time is now.
func Vars(ctx context.Context, dir string, o CI) codeship.Vars {
	v := codeship.Vars{Time: time.Now().UTC()}
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "safe.directory=*", "-C", dir}, args...)...)
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"}
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimRight(string(out), "\n")
	}
	if top := git("rev-parse", "--show-toplevel"); top != "" {
		v.RepoName = filepath.Base(top)
		v.Branch = git("rev-parse", "--abbrev-ref", "HEAD")
		if v.Branch == "HEAD" {
			v.Branch = "" // detached
		}
		v.CommitID = git("rev-parse", "HEAD")
		v.CommitMessage = git("log", "-1", "--format=%B")
		v.CommitterName = git("log", "-1", "--format=%cn")
		v.CommitterEmail = git("log", "-1", "--format=%ce")
		v.CommitDescription = git("describe", "--abbrev=1", "--tags", "--always")
	} else {
		v.RepoName = filepath.Base(dir)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	v.BuildID = hex.EncodeToString(b)
	override := func(dst *string, val string) {
		if val != "" {
			*dst = val
		}
	}
	override(&v.Branch, o.Branch)
	override(&v.CommitID, o.CommitID)
	override(&v.CommitMessage, o.CommitMessage)
	override(&v.CommitDescription, o.CommitDescription)
	override(&v.CommitterName, o.CommitterName)
	override(&v.CommitterEmail, o.CommitterEmail)
	override(&v.CommitterUsername, o.CommitterUsername)
	override(&v.BuildID, o.BuildID)
	override(&v.ProjectID, o.ProjectID)
	override(&v.RepoName, o.RepoName)
	return v
}
