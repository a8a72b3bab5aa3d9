package hushtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// RootlessEnv is the environment variable that makes NewEnv run hush as the ordinary test
// user (RootlessUser), rootless; CI runs the end-to-end tests once more with it set to 1.
const RootlessEnv = "HUSH_TEST_ROOTLESS"

// TestUserName is the ordinary user rootless tests run hush as; RootlessUser creates it
// (with subordinate ID ranges) when it is missing.
const TestUserName = "hush-rootless"

// User is an ordinary user a test runs hush as.
type User struct {
	Name     string
	UID, GID int
	// Groups are supplementary groups the user's commands get (none by default).
	Groups []int
}

// Rootless reports whether NewEnv runs hush as the test user (RootlessEnv=1).
func Rootless() bool { return os.Getenv(RootlessEnv) == "1" }

// RootlessUser returns the test user, creating it with useradd (which gives a new user
// subordinate ID ranges) when it is missing. It needs root, useradd, setpriv and the
// uidmap helpers, and the user needs ranges in /etc/subuid and /etc/subgid.
func RootlessUser(t testing.TB) User {
	t.Helper()
	u := testUser(t, TestUserName)
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		b, _ := os.ReadFile(f)
		Require(t, hasSubIDs(string(b), u.Name, strconv.Itoa(u.UID)),
			fmt.Sprintf("the rootless test user %s has no range in %s (`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s`)", u.Name, f, u.Name))
	}
	return u
}

// UserWithoutSubIDs returns an ordinary user with no subordinate ID ranges, creating it
// when it is missing (and failing if it has ranges).
func UserWithoutSubIDs(t testing.TB) User {
	t.Helper()
	u := testUser(t, TestUserName+"-noids", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0")
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if b, _ := os.ReadFile(f); hasSubIDs(string(b), u.Name, strconv.Itoa(u.UID)) {
			t.Fatalf("user %s has a range in %s", u.Name, f)
		}
	}
	return u
}

// testUser looks name up, creating it with useradd and extra options when missing.
func testUser(t testing.TB, name string, useraddOpts ...string) User {
	t.Helper()
	RequireRootFor(t, "creates the rootless test user and runs hush as it")
	for _, bin := range []string{"setpriv", "newuidmap", "newgidmap", "useradd"} {
		RequireBinary(t, bin)
	}
	u, err := user.Lookup(name)
	if err != nil {
		args := append(append([]string{"--no-create-home", "--shell", "/usr/sbin/nologin"}, useraddOpts...), name)
		out, aerr := exec.Command("useradd", args...).CombinedOutput()
		if u, err = user.Lookup(name); err != nil { // another test may have made it meanwhile
			t.Fatalf("creating the test user %s: %v %s", name, aerr, out)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return User{Name: u.Username, UID: uid, GID: gid}
}

func hasSubIDs(text, name, uid string) bool {
	for _, line := range strings.Split(text, "\n") {
		owner, _, ok := strings.Cut(line, ":")
		if ok && (owner == name || owner == uid) {
			return true
		}
	}
	return false
}

// Command returns an unstarted command that runs bin with args as u: setpriv with u's
// IDs and supplementary groups (u.Groups only), and an environment of the caller's
// without root's identity, dirs and state dir, plus env ("KEY=value").
func (u User) Command(env []string, bin string, args ...string) *exec.Cmd {
	groups := "--clear-groups"
	if len(u.Groups) > 0 {
		ids := make([]string, len(u.Groups))
		for i, g := range u.Groups {
			ids[i] = strconv.Itoa(g)
		}
		groups = "--groups=" + strings.Join(ids, ",")
	}
	cmd := exec.Command("setpriv", append([]string{"--reuid=" + strconv.Itoa(u.UID), "--regid=" + strconv.Itoa(u.GID),
		groups, "--", bin}, args...)...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "USER", "LOGNAME", "TMPDIR", "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "HUSH_ROOT", TmpfsDirEnv:
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "USER="+u.Name, "LOGNAME="+u.Name)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// Own hands paths (recursively) to u and lets u reach them: every parent up to the
// filesystem root gets search permission for others when it lacks it (test temp dirs
// are 0700).
func (u User) Own(t testing.TB, paths ...string) {
	t.Helper()
	if err := u.Chown(paths...); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		u.Reach(t, filepath.Dir(p))
	}
}

// Chown hands paths (recursively) to u, skipping what is u's already: a chown changes
// ctime, which hush's context-sum cache reads.
func (u User) Chown(paths ...string) error {
	for _, p := range paths {
		err := filepath.Walk(p, func(q string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == u.UID && int(st.Gid) == u.GID {
				return nil
			}
			return os.Lchown(q, u.UID, u.GID)
		})
		if err != nil {
			return fmt.Errorf("handing %s to %s: %w", p, u.Name, err)
		}
	}
	return nil
}

// Reach gives others search permission on dir and every parent that lacks it.
func (u User) Reach(t testing.TB, dir string) {
	t.Helper()
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatalf("reaching %s: %v", d, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil && !errors.Is(err, os.ErrPermission) {
				t.Fatalf("reaching %s: %v", d, err)
			}
		}
		if d == filepath.Dir(d) {
			return
		}
	}
}

// ReachSiblings gives others search permission on every directory beside dir (a test's
// other t.TempDir() dirs: a registry's CA file, a key file) and on dir's parents.
func (u User) ReachSiblings(t testing.TB, dir string) {
	t.Helper()
	parent := filepath.Dir(dir)
	u.Reach(t, parent)
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatalf("reaching %s: %v", parent, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			u.Reach(t, filepath.Join(parent, e.Name()))
		}
	}
}

// JoinGroupOf adds the group owning path (a docker socket's, say) to the supplementary
// groups of u's commands, as an ordinary user who may use it is a member of it.
func (u *User) JoinGroupOf(t testing.TB, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	u.Groups = append(u.Groups, int(fi.Sys().(*syscall.Stat_t).Gid))
}
