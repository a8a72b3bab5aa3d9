package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
)

// sshServer is a real sshd on a loopback port serving git over ssh, plus an ssh-agent
// holding the only client key it accepts.
type sshServer struct {
	port      int
	hostKey   string // public host key line ("ssh-ed25519 AAAA...")
	otherKey  string // a different public host key, for the mismatch case
	agentSock string
	log       *hushtest.Buffer
}

func keygen(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pub))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, what string, log *hushtest.Buffer, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s; output:\n%s", what, log.String())
}

func startSSHServer(t *testing.T) *sshServer {
	t.Helper()
	hushtest.RequireRoot(t)
	sshd := "/usr/sbin/sshd"
	if p, err := exec.LookPath("sshd"); err == nil {
		sshd = p
	}
	_, err := os.Stat(sshd)
	hushtest.Require(t, err == nil, "needs sshd (Debian package openssh-server)")
	for _, b := range []string{"ssh", "ssh-agent", "ssh-add", "ssh-keygen", "git"} {
		hushtest.RequireBinary(t, b)
	}
	// sshd insists on its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("creating /run/sshd: %v", err)
	}
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "gsssh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	s := &sshServer{port: freePort(t), log: &hushtest.Buffer{}, agentSock: filepath.Join(dir, "agent.sock")}
	s.hostKey = keygen(t, filepath.Join(dir, "host_key"))
	s.otherKey = keygen(t, filepath.Join(dir, "other_host_key"))
	clientPub := keygen(t, filepath.Join(dir, "client_key"))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(clientPub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
LogLevel VERBOSE
`, s.port, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"))
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, s.log, sshd, "-D", "-e", "-f", cfgPath)
	waitFor(t, "sshd to listen", s.log, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	startProcess(t, s.log, "ssh-agent", "-D", "-a", s.agentSock)
	waitFor(t, "ssh-agent socket", s.log, func() bool { _, err := os.Stat(s.agentSock); return err == nil })
	add := exec.Command("ssh-add", filepath.Join(dir, "client_key"))
	add.Env = []string{"SSH_AUTH_SOCK=" + s.agentSock, "PATH=" + os.Getenv("PATH")}
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	return s
}

// knownHosts writes a known_hosts file pinning key for the server and returns its path.
func (s *sshServer) knownHosts(t *testing.T, key string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s\n", s.port, key)
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFetchSSH(t *testing.T) {
	srv := startSSHServer(t)
	root := t.TempDir()
	f := newFixture(t, root)
	remote := fmt.Sprintf("ssh://root@127.0.0.1:%d%s", srv.port, f.bare)

	tests := []struct {
		name       string
		src        string
		knownHosts string
		agent      string
		wantErr    error
		wantCommit string
		wantFile   string
	}{
		{name: "pinned host key", src: remote + "#main", knownHosts: srv.knownHosts(t, srv.hostKey),
			agent: srv.agentSock, wantCommit: f.c2, wantFile: "v2\n"},
		{name: "tag with subdir", src: remote + "#v1:sub", knownHosts: srv.knownHosts(t, srv.hostKey),
			agent: srv.agentSock, wantCommit: f.c1},
		{name: "different host key", src: remote + "#main", knownHosts: srv.knownHosts(t, srv.otherKey),
			agent: srv.agentSock, wantErr: ErrHostKey},
		{name: "empty known_hosts", src: remote + "#main", knownHosts: emptyFile(t),
			agent: srv.agentSock, wantErr: ErrHostKey},
		{name: "no known_hosts", src: remote + "#main", agent: srv.agentSock, wantErr: ErrNoKnownHosts},
		{name: "no agent", src: remote + "#main", knownHosts: srv.knownHosts(t, srv.hostKey), wantErr: ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, ok, err := Parse(tt.src)
			if err != nil || !ok {
				t.Fatalf("Parse(%q) = ok %v, err %v", tt.src, ok, err)
			}
			dest := filepath.Join(t.TempDir(), "out")
			var progress hushtest.Buffer
			commit, err := Fetch(context.Background(), ref, dest,
				Options{SSHAuthSock: tt.agent, KnownHosts: tt.knownHosts, Stderr: &progress})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Fetch error = %v, want %v\nprogress:\n%s", err, tt.wantErr, progress.String())
				}
				t.Logf("error (as the user sees it): %v", err)
				if !strings.Contains(err.Error(), "127.0.0.1") || !strings.Contains(err.Error(), "main") {
					t.Errorf("error %q does not name the remote and ref", err)
				}
				if _, serr := os.Lstat(dest); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("dest exists after a failed fetch")
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v\nprogress:\n%s\nsshd log:\n%s", err, progress.String(), srv.log.String())
			}
			if commit != tt.wantCommit {
				t.Errorf("commit = %s, want %s", commit, tt.wantCommit)
			}
			if tt.wantFile != "" {
				if got, err := os.ReadFile(filepath.Join(dest, "a.txt")); err != nil || string(got) != tt.wantFile {
					t.Errorf("a.txt = %q (%v), want %q", got, err, tt.wantFile)
				}
			}
			if ref.Subdir != "" {
				if _, err := os.Stat(filepath.Join(dest, "b.txt")); err != nil {
					t.Errorf("subdir content missing: %v", err)
				}
			}
			if _, err := os.Stat(filepath.Join(dest, ".git")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf(".git kept without KeepGitDir")
			}
		})
	}
}

func emptyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "empty_known_hosts")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
