package rootless

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func host(name string) Host { return Host{Root: filepath.Join("testdata", "hosts", name)} }

func TestDiagnoseClone(t *testing.T) {
	tests := []struct {
		host string
		want string // "" for no hint
	}{
		{"plain", ""},
		{"userns-off", "`sudo sysctl -w kernel.unprivileged_userns_clone=1`"},
		{"max-zero", "user.max_user_namespaces=0"},
		{"ubuntu", "kernel.apparmor_restrict_unprivileged_userns=0"},
		{"docker-seccomp", "`--security-opt seccomp=unconfined` (Kubernetes: securityContext.seccompProfile.type: Unconfined)"},
		{"k8s-unconfined", ""},
	}
	for _, tt := range tests {
		err := host(tt.host).diagnoseClone(unix.EPERM)
		msg := err.Error()
		if !strings.HasPrefix(msg, "rootless: creating a user namespace: operation not permitted") {
			t.Errorf("%s: %q does not say what failed", tt.host, msg)
		}
		if tt.want == "" && strings.Contains(msg, "operation not permitted:") {
			t.Errorf("%s: unexpected hint in %q", tt.host, msg)
		}
		if tt.want != "" && !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %q does not name %q", tt.host, msg, tt.want)
		}
	}
}

func TestDiagnoseMapHelper(t *testing.T) {
	dir := t.TempDir()
	setuid := filepath.Join(dir, "newuidmap")
	if err := os.WriteFile(setuid, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(setuid, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	plainBin := filepath.Join(dir, "newgidmap")
	if err := os.WriteFile(plainBin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, bin, want string
	}{
		{"k8s-unconfined", setuid, "`install -m 0755 " + setuid + " /usr/local/bin/newuidmap && setcap cap_setuid=ep /usr/local/bin/newuidmap`"},
		{"k8s-unconfined", plainBin, "check this user's ranges in /etc/subuid and /etc/subgid"},
		{"plain", setuid, "check this user's ranges"},
		{"nonewprivs", plainBin, "no_new_privs"},
	}
	for _, tt := range tests {
		err := host(tt.host).diagnoseMapHelper(tt.bin, "newuidmap: write to uid_map failed: Operation not permitted", errors.New("exit status 1"))
		msg := err.Error()
		if !strings.Contains(msg, "write to uid_map failed") || !strings.Contains(msg, tt.want) {
			t.Errorf("%s %s: %q does not carry the helper's output and %q", tt.host, filepath.Base(tt.bin), msg, tt.want)
		}
	}
}

func TestDiagnoseMount(t *testing.T) {
	tests := []struct {
		host, what string
		err        error
		want       string
	}{
		{"docker-seccomp", "overlay", unix.EACCES, "`--security-opt apparmor=unconfined`"},
		{"k8s-unconfined", "/proc", unix.EPERM, "`--security-opt systempaths=unconfined` (Kubernetes: securityContext.procMount: Unmasked)"},
		{"k8s-unconfined", "overlay", unix.EPERM, ""},
		{"plain", "/proc", unix.EPERM, ""},
		{"docker-seccomp", "/proc", unix.EBUSY, ""},
	}
	for _, tt := range tests {
		err := host(tt.host).diagnoseMount(tt.what, tt.err)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s %s: %v does not wrap %v", tt.host, tt.what, err, tt.err)
		}
		if tt.want == "" && err.Error() != tt.err.Error() {
			t.Errorf("%s %s: unexpected hint in %q", tt.host, tt.what, err)
		}
		if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: %q does not name %q", tt.host, tt.what, err, tt.want)
		}
	}
}

func TestInContainer(t *testing.T) {
	for name, want := range map[string]bool{"plain": false, "docker-seccomp": true, "k8s-unconfined": true, "ubuntu": false, "vm": false} {
		if got := host(name).InContainer(); got != want {
			t.Errorf("%s: InContainer = %v, want %v", name, got, want)
		}
	}
}

func TestProcMasked(t *testing.T) {
	for name, want := range map[string]bool{"k8s-unconfined": true, "vm": false, "docker-seccomp": false, "plain": false,
		"nfs-server": false} {
		if got := host(name).ProcMasked(); got != want {
			t.Errorf("%s: ProcMasked = %v, want %v", name, got, want)
		}
	}
}
