package hushtest

import (
	"os"
	"os/exec"
	"testing"
)

// RequireAllEnv is the environment variable that turns every skip into a failure; CI sets
// it to 1 so that nothing silently skips there.
const RequireAllEnv = "HUSH_REQUIRE_ALL"

// Require skips the test with why unless ok; when HUSH_REQUIRE_ALL=1 it fails instead.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv(RequireAllEnv) == "1" {
		t.Fatalf("%s (%s=1 forbids skipping)", why, RequireAllEnv)
		return
	}
	t.Skip(why)
}

// RequireRoot requires the test to run as root (overlayfs mounts, OCI runtime).
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "needs root: hush build mounts overlayfs and runs an OCI runtime")
}

// RequireRootFor requires the test to run as root for the reason why ("changes file
// ownership").
func RequireRootFor(t testing.TB, why string) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "needs root: "+why)
}

// RequireBinary requires name on PATH and returns its full path.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Require(t, err == nil, "needs "+name+" on PATH")
	return p
}

// RequireDocker requires a docker CLI whose engine answers `docker info`.
func RequireDocker(t testing.TB) {
	t.Helper()
	docker := RequireBinary(t, "docker")
	out, err := exec.Command(docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	Require(t, err == nil, "needs a running docker engine: docker info: "+string(out))
}
