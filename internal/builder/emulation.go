package builder

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/plan"
)

// binfmtDir is where the kernel lists its binfmt_misc handlers.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// qemuNames are qemu-user's names of the architectures Go (and OCI) name otherwise.
var qemuNames = map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i386",
	"mips64le": "mips64el", "mipsle": "mipsel", "loong64": "loongarch64"}

// runsNatively reports the architectures the host's kernel runs without an emulator.
func runsNatively(host, arch string) bool {
	return arch == host || (host == "amd64" && arch == "386") || (host == "arm64" && arch == "arm")
}

// canRun reports whether RUN steps of platform p can run here: natively, or through an
// emulator registered with binfmt_misc (Debian's qemu-user-static, tonistiigi/binfmt).
// Where binfmt_misc is not mounted (rootless hush's namespace) it cannot tell, and says
// yes: the kernel still runs the host's emulators there.
func canRun(p ocispecs.Platform) bool {
	return canRunIn(binfmtDir, plan.HostPlatform().Architecture, p.Architecture)
}

func canRunIn(dir, host, arch string) bool {
	if runsNatively(host, arch) {
		return true
	}
	if _, err := os.Stat(filepath.Join(dir, "status")); err != nil {
		return true
	}
	name := arch
	if q, ok := qemuNames[name]; ok {
		name = q
	}
	f, err := os.Open(filepath.Join(dir, "qemu-"+name))
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line) == "enabled"
}
