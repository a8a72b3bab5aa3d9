package builder

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCanRunIn: native and compatible architectures run; a foreign one runs when its qemu
// handler is enabled; with binfmt_misc not mounted (no status file) hush cannot tell and
// does not warn.
func TestCanRunIn(t *testing.T) {
	mounted := t.TempDir()
	for name, body := range map[string]string{"status": "enabled\n", "qemu-aarch64": "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n",
		"qemu-riscv64": "disabled\n"} {
		if err := os.WriteFile(filepath.Join(mounted, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unmounted := t.TempDir()
	tests := []struct {
		dir, host, arch string
		want            bool
	}{
		{mounted, "amd64", "amd64", true},
		{mounted, "amd64", "386", true},
		{mounted, "amd64", "arm64", true},
		{mounted, "amd64", "riscv64", false},
		{mounted, "amd64", "s390x", false},
		{unmounted, "amd64", "s390x", true},
		{filepath.Join(unmounted, "absent"), "arm64", "arm", true},
	}
	for _, tt := range tests {
		if got := canRunIn(tt.dir, tt.host, tt.arch); got != tt.want {
			t.Errorf("canRunIn(%s, %s, %s) = %v, want %v", tt.dir, tt.host, tt.arch, got, tt.want)
		}
	}
}
