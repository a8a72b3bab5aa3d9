package main

import (
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// devicesDockerfile makes device nodes in every writable place a step has and tries to open
// them; it prints one KEY=exit-status line per attempt.
const devicesDockerfile = `FROM busybox
RUN --mount=type=cache,target=/cache --mount=type=tmpfs,target=/scratch \
    for d in /tmp /cache /scratch /dev /dev/shm; do \
      mknod $d/blk b 7 0; echo "mknod-b $d=$?"; \
      mknod $d/chr c 1 1; echo "mknod-c $d=$?"; \
      head -c1 $d/blk >/dev/null 2>&1; echo "open-b $d=$?"; \
      head -c1 $d/chr >/dev/null 2>&1; echo "open-c $d=$?"; \
      rm -f $d/blk $d/chr; \
    done; \
    echo hello >/dev/null && echo "devnull=0"; \
    echo "urandom=$(head -c 8 /dev/urandom | wc -c)"; \
    echo "zero=$(head -c 8 /dev/zero | wc -c)"; \
    ls /dev | tr '\n' ' ' | sed 's/^/devls=/'; echo; \
    grep '^Seccomp:' /proc/self/status | tr -d ' \t' | sed 's/:/=/'
`

// TestStepsCannotReachHostDevices: a RUN step may make device nodes (CAP_MKNOD, as in
// docker run) but can never open one, wherever it makes it; /dev holds only the default
// set; and Docker's default seccomp filter is on. Same with crun and runc.
func TestStepsCannotReachHostDevices(t *testing.T) {
	requireHush(t)
	for _, runtime := range []string{"crun", "runc"} {
		t.Run(runtime, func(t *testing.T) {
			t.Parallel()
			hushtest.RequireBinary(t, runtime)
			e := hushtest.NewEnv(t, hushBin)
			e.WriteFile("ctx/Dockerfile", devicesDockerfile)
			out, errOut, code := e.Run("build", "--progress=plain", "--no-cache", "--runtime", runtime, "ctx")
			if code != 0 {
				t.Fatalf("build failed (%d):\n%s%s", code, out, errOut)
			}
			got := map[string]string{}
			for _, line := range strings.Split(errOut, "\n") {
				f := strings.Fields(line)
				if len(f) < 3 || !strings.HasPrefix(f[0], "#") {
					continue
				}
				if k, v, ok := strings.Cut(strings.Join(f[2:], " "), "="); ok {
					got[k] = v
				}
			}
			for _, d := range []string{"/tmp", "/cache", "/scratch", "/dev", "/dev/shm"} {
				for _, kind := range []string{"b", "c"} {
					if got["open-"+kind+" "+d] == "0" || got["open-"+kind+" "+d] == "" {
						t.Errorf("opening a %s device made in %s: exit %q, want a failure", kind, d, got["open-"+kind+" "+d])
					}
				}
			}
			for k, want := range map[string]string{"devnull": "0", "urandom": "8", "zero": "8", "Seccomp": "2"} {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			for _, dev := range strings.Fields(got["devls"]) {
				switch dev {
				case "null", "zero", "full", "random", "urandom", "tty", "console", "pts", "shm", "mqueue",
					"fd", "stdin", "stdout", "stderr", "ptmx", "core":
				default:
					t.Errorf("/dev holds %q beyond the default device set", dev)
				}
			}
			if t.Failed() {
				t.Logf("build log:\n%s", errOut)
			}
		})
	}
}
