package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/registry/registrytest"
)

// cacheWorld is a registry with auth between machines (state dirs) that all build FROM
// the same base image in it, as CI machines pulling one base would.
type cacheWorld struct {
	t    *testing.T
	srv  *registrytest.Server
	auth string // a docker config.json for the registry
	base string // the base image's reference
}

func newCacheWorld(t *testing.T) *cacheWorld {
	requireHush(t)
	pass := canary(t, "regpass")
	srv := registrytest.Start(t, map[string]string{"ci": pass})
	w := &cacheWorld{t: t, srv: srv, base: srv.Host + "/base/busybox:1",
		auth: `{"auths":{"` + srv.Host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("ci:"+pass)) + `"}}}`}
	m := w.machine()
	if _, log, code := m.Run(w.reg("push", "busybox:latest", w.base)...); code != 0 {
		t.Fatalf("pushing the base: %s", log)
	}
	return w
}

// machine is a fresh state dir with the registry's credentials in auth.json.
func (w *cacheWorld) machine() *hushtest.Env {
	e := hushtest.NewEnv(w.t, hushBin)
	e.WriteFile("auth.json", w.auth)
	return e
}

// reg appends the registry access flags (credentials file relative to the machine's Dir).
func (w *cacheWorld) reg(args ...string) []string {
	return append(args, "--registry-auth", "auth.json", "--registry-ca", w.srv.CAFile)
}

// timedBuild runs hush build with args and the registry flags; it fails the test unless
// the exit code is want.
func (w *cacheWorld) timedBuild(m *hushtest.Env, want int, args ...string) (string, time.Duration) {
	w.t.Helper()
	start := time.Now()
	_, log, code := m.Run(w.reg(append([]string{"build", "--progress=plain"}, args...)...)...)
	d := time.Since(start)
	if code != want {
		w.t.Fatalf("hush build %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, log)
	}
	return log, d
}

// twoMachineDockerfile's steps print "ran:N" only when they run (the progress line shows
// the unexpanded $((…))).
const twoMachineDockerfile = `FROM BASE AS tools
RUN echo ran:$((1+1)) && i=0; while [ $i -lt 600000 ]; do i=$((i+1)); done; echo $i > /count
FROM BASE
COPY app.txt /app/
COPY --from=tools /count /app/count
RUN echo ran:$((2+1)) && dd if=/dev/urandom of=/app/data.bin bs=1M count=32 2>/dev/null
RUN echo ran:$((3+1)) && sha256sum /app/data.bin > /app/data.sum
`

// TestCacheTwoMachines: machine A builds and pushes an image and exports its cache
// (mode=max) to a registry with auth; machine B, a fresh state dir that never built
// anything, builds the same inputs (its context elsewhere, with other mtimes) with
// --cache-from: every step is CACHED, no step runs (no "ran:N" line), and the image ID is
// identical. The cache shares the image's layer blobs: their upload is a cross-repository
// mount. The times and bytes pulled are logged (docs/scaling.md quotes them).
func TestCacheTwoMachines(t *testing.T) {
	w := newCacheWorld(t)
	df := strings.ReplaceAll(twoMachineDockerfile, "BASE", w.base)
	image, cacheRef := w.srv.Host+"/team/app:1", w.srv.Host+"/team/app-cache:main"

	a := w.machine()
	a.WriteFile("ctx/Dockerfile", df)
	a.WriteFile("ctx/app.txt", "application\n")
	logA, cold := w.timedBuild(a, 0, "--push", "-t", image, "--iidfile", "iid",
		"--cache-to", "type=registry,ref="+cacheRef+",mode=max", "ctx")
	if !strings.Contains(logA, "exporting cache to "+cacheRef) {
		t.Fatalf("no cache export:\n%s", logA)
	}
	idA, _ := os.ReadFile(filepath.Join(a.Dir, "iid"))
	mounted := mountedBlobs(w.srv.Logs(), "team/app-cache", "team/app")
	if mounted != 4 {
		t.Errorf("%d layer blob(s) of the cache were mounted from team/app, want the 4 the image shares", mounted)
	}

	b := w.machine()
	b.WriteFile("elsewhere/build/Dockerfile", df)
	time.Sleep(1100 * time.Millisecond) // other mtimes than A's context
	b.WriteFile("elsewhere/build/app.txt", "application\n")
	before := len(w.srv.Logs())
	logB, warm := w.timedBuild(b, 0, "--iidfile", "iid", "--cache-from", "type=registry,ref="+cacheRef, "elsewhere/build")
	served := bytesServed(w.srv.Logs()[before:])
	if regexp.MustCompile(`ran:\d`).MatchString(logB) {
		t.Errorf("a step ran on machine B:\n%s", logB)
	}
	if n := strings.Count(logB, "CACHED"); n != 5 {
		t.Errorf("%d CACHED steps on machine B, want 5:\n%s", n, logB)
	}
	idB, _ := os.ReadFile(filepath.Join(b.Dir, "iid"))
	if len(idA) == 0 || string(idA) != string(idB) {
		t.Errorf("image ID %q on A, %q on B", idA, idB)
	}
	pulled := bytesPulled(t, logB)

	c := w.machine() // the same build, cold, for comparison
	c.WriteFile("ctx/Dockerfile", df)
	c.WriteFile("ctx/app.txt", "application\n")
	logC, coldC := w.timedBuild(c, 0, "ctx")
	if !regexp.MustCompile(`ran:\d`).MatchString(logC) {
		t.Errorf("a cold build printed no ran:N line, so the check on machine B proves nothing:\n%s", logC)
	}
	if pulled == 0 || served < pulled {
		t.Errorf("machine B pulled %d bytes of cache, the registry served it %d in all", pulled, served)
	}
	t.Logf("machine A (cold, build + push + cache export): %s; machine C (cold, build only): %s; "+
		"machine B (from the registry cache): %s, %d bytes of cache pulled, %d bytes the registry served machine B in all",
		cold.Round(time.Millisecond), coldC.Round(time.Millisecond), warm.Round(time.Millisecond), pulled, served)
}

// mountedBlobs counts the blob uploads to repo the registry served as a mount from "from".
func mountedBlobs(log, repo, from string) int {
	re := regexp.MustCompile(`POST /v2/` + regexp.QuoteMeta(repo) + `/blobs/uploads/\?[^" ]*from=` + regexp.QuoteMeta(strings.ReplaceAll(from, "/", "%2F")) + `[^" ]*mount=sha256[^"]*" 201`)
	return len(re.FindAllString(log, -1))
}

var servedRE = regexp.MustCompile(`"GET /v2/[^"]*" 200 (\d+) `)

// bytesServed sums what the registry's access log says it sent for GET requests.
func bytesServed(log string) int64 {
	var n int64
	for _, m := range servedRE.FindAllStringSubmatch(log, -1) {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		n += v
	}
	return n
}

var pulledRE = regexp.MustCompile(`(\d+) step\(s\) reused, (\d+) bytes pulled`)

func bytesPulled(t *testing.T, log string) int64 {
	m := pulledRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no import summary in the log:\n%s", log)
	}
	n, _ := strconv.ParseInt(m[2], 10, 64)
	return n
}

// TestCacheExportLeavesSecretsOut: a layer holding a secret (--audit=warn keeps it in the
// image) is not in the exported cache — the canary is nowhere in the registry's storage in
// any encoding — while the clean step is exported (machine B reuses it and reruns the
// leaking one); with --audit=fail the build exports nothing. Machine B without credentials
// for the cache builds without it, with a warning.
func TestCacheExportLeavesSecretsOut(t *testing.T) {
	w := newCacheWorld(t)
	secretValue := canary(t, "cachetok")
	df := "FROM " + w.base + "\nRUN echo clean:$((5+5)) && echo x > /clean\nRUN --mount=type=secret,id=tok cp /run/secrets/tok /leaked && echo leak:$((6+6))\n"
	cacheRef := w.srv.Host + "/team/leaky-cache:main"
	a := w.machine()
	a.WriteFile("ctx/Dockerfile", df)
	t.Setenv("TOK", secretValue)
	w.timedBuild(a, 1, "--secret", "id=tok,env=TOK", "--cache-to", "type=registry,ref="+cacheRef+",mode=max", "ctx")
	hushtest.NoCanary(t, []byte(secretValue), w.srv.Dir)
	log, _ := w.timedBuild(a, 0, "--audit=warn", "--secret", "id=tok,env=TOK", "--cache-to", "type=registry,ref="+cacheRef+",mode=max", "ctx")
	if !strings.Contains(log, "left out 1 step(s) whose layers the audit found a secret in") {
		t.Errorf("no note about the left-out layer:\n%s", log)
	}
	hushtest.NoCanary(t, []byte(secretValue), w.srv.Dir)

	b := w.machine()
	b.WriteFile("ctx/Dockerfile", df)
	_, logB, code := b.Run("build", "--progress=plain", "--registry-ca", w.srv.CAFile, "--cache-from", cacheRef, "ctx")
	if code == 0 || !strings.Contains(logB, "wants credentials and none were found") || !strings.Contains(logB, "building without it") {
		t.Errorf("an import without credentials: exit %d\n%s", code, logB)
	}
	logB, _ = w.timedBuild(b, 0, "--audit=warn", "--secret", "id=tok,env=TOK", "--cache-from", cacheRef, "ctx")
	if strings.Contains(logB, "clean:10") || !strings.Contains(logB, "leak:12") {
		t.Errorf("machine B: want the clean step from the cache and the leaking one run:\n%s", logB)
	}
}

// TestCacheImportTamperedRegistryBlob: a layer blob changed in the registry's storage
// fails machine B's build with an error naming the layer and the digest mismatch.
func TestCacheImportTamperedRegistryBlob(t *testing.T) {
	w := newCacheWorld(t)
	df := "FROM " + w.base + "\nRUN echo RAN-one > /one\n"
	cacheRef := w.srv.Host + "/team/t-cache:main"
	a := w.machine()
	a.WriteFile("ctx/Dockerfile", df)
	w.timedBuild(a, 0, "--cache-to", "type=registry,ref="+cacheRef, "ctx")
	var m v1.Manifest
	if err := json.Unmarshal(w.blob(w.tagged("team/t-cache", "main")), &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("the cache manifest: %v %+v", err, m)
	}
	digest := m.Layers[0].Digest.String()
	p := w.blobPath(digest)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b := w.machine()
	b.WriteFile("ctx/Dockerfile", df)
	logB, _ := w.timedBuild(b, 1, "--cache-from", cacheRef, "ctx")
	if !strings.Contains(logB, "layer "+digest) || !strings.Contains(logB, "does not match its digest") {
		t.Errorf("want an error naming %s and the mismatch:\n%s", digest, logB)
	}
}

// tagged is the digest a tag of repo points at, read from the registry's storage.
func (w *cacheWorld) tagged(repo, tag string) string {
	link := filepath.Join(w.srv.Dir, "data", "docker", "registry", "v2", "repositories", repo, "_manifests", "tags", tag, "current", "link")
	b, err := os.ReadFile(link)
	if err != nil {
		w.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (w *cacheWorld) blobPath(digest string) string {
	hex := strings.TrimPrefix(digest, "sha256:")
	return filepath.Join(w.srv.Dir, "data", "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
}

func (w *cacheWorld) blob(digest string) []byte {
	b, err := os.ReadFile(w.blobPath(digest))
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// TestBakeCache: a bake target's cache-to and cache-from attributes, buildx's spellings,
// carry the cache from one machine to another through the registry.
func TestBakeCache(t *testing.T) {
	w := newCacheWorld(t)
	cacheRef := w.srv.Host + "/team/bake-cache:main"
	hcl := `target "default" {
  cache-from = ["type=registry,ref=` + cacheRef + `"]
  cache-to   = ["type=registry,ref=` + cacheRef + `,mode=max"]
}
`
	df := "FROM " + w.base + "\nRUN echo step:$((20+1)) > /f && cat /f\n"
	var logs []string
	for _, m := range []*hushtest.Env{w.machine(), w.machine()} {
		m.WriteFile("docker-bake.hcl", hcl)
		m.WriteFile("Dockerfile", df)
		log, code := runBake(t, m, m.Dir, nil, w.reg("--progress=plain")...)
		if code != 0 {
			t.Fatalf("hush bake: exit %d\n%s", code, log)
		}
		logs = append(logs, log)
	}
	if !strings.Contains(logs[0], "step:21") || !strings.Contains(logs[0], "exporting cache to "+cacheRef) {
		t.Errorf("the first machine did not build and export:\n%s", logs[0])
	}
	if strings.Contains(logs[1], "step:21") || !strings.Contains(logs[1], "CACHED") {
		t.Errorf("the second machine did not build from the cache:\n%s", logs[1])
	}
}

// TestStepsCachedService: a Codeship service with `cached: true` builds on a second
// machine from the registry cache its first build exported beside the service's image,
// with the credentials of the docker config (the push path's).
func TestStepsCachedService(t *testing.T) {
	w := newCacheWorld(t)
	services := "app:\n  build: .\n  image: " + w.srv.Host + "/team/svc\n  cached: true\n"
	var logs []string
	for _, m := range []*hushtest.Env{w.machine(), w.machine()} {
		m.WriteFile("pipe/codeship-services.yml", services)
		m.WriteFile("pipe/codeship-steps.yml", "- name: show\n  service: app\n  command: cat /f\n")
		m.WriteFile("pipe/Dockerfile", "FROM "+w.base+"\nRUN echo built:$((40+2)) && echo svc-file > /f\n")
		m.WriteFile("docker/config.json", w.auth)
		cmd := m.Command("steps", "--progress=plain", "--network=none", "--ci-branch", "feature/x", "--registry-ca", w.srv.CAFile, "pipe")
		cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+filepath.Join(m.Dir, "docker"))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "show | svc-file") {
			t.Fatalf("hush steps: %v\n%s", err, out)
		}
		logs = append(logs, string(out))
	}
	ref := w.srv.Host + "/team/svc:hush-cache-feature-x"
	if !strings.Contains(logs[0], "built:42") || !strings.Contains(logs[0], "exporting cache to "+ref) {
		t.Errorf("the first machine did not build and export to %s:\n%s", ref, logs[0])
	}
	if strings.Contains(logs[1], "built:42") || !strings.Contains(logs[1], "CACHED") {
		t.Errorf("the second machine did not build from the cache:\n%s", logs[1])
	}
}

// TestCacheDockerMediaTypes: oci-mediatypes=false writes a Docker schema 2 cache manifest,
// which a registry takes and another machine imports.
func TestCacheDockerMediaTypes(t *testing.T) {
	w := newCacheWorld(t)
	df := "FROM " + w.base + "\nRUN echo step:$((30+3)) > /f && cat /f\n"
	cacheRef := w.srv.Host + "/team/docker-cache:main"
	a, b := w.machine(), w.machine()
	a.WriteFile("ctx/Dockerfile", df)
	b.WriteFile("ctx/Dockerfile", df)
	w.timedBuild(a, 0, "--cache-to", "type=registry,ref="+cacheRef+",oci-mediatypes=false", "ctx")
	var m v1.Manifest
	if err := json.Unmarshal(w.blob(w.tagged("team/docker-cache", "main")), &m); err != nil ||
		m.MediaType != "application/vnd.docker.distribution.manifest.v2+json" || len(m.Layers) != 1 ||
		m.Layers[0].MediaType != "application/vnd.docker.image.rootfs.diff.tar.gzip" {
		t.Fatalf("the cache manifest: %v %+v", err, m)
	}
	if log, _ := w.timedBuild(b, 0, "--cache-from", cacheRef, "ctx"); strings.Contains(log, "step:33") {
		t.Errorf("machine B ran the step:\n%s", log)
	}
}

// TestCacheInlinePushed: --cache-to type=inline with --push carries the cache in the pushed
// image's manifest; another machine imports it with --cache-from IMAGE (buildx's short form).
func TestCacheInlinePushed(t *testing.T) {
	w := newCacheWorld(t)
	df := "FROM " + w.base + "\nRUN echo step:$((50+5)) > /f && cat /f\n"
	image := w.srv.Host + "/team/inline:1"
	a, b := w.machine(), w.machine()
	a.WriteFile("ctx/Dockerfile", df)
	b.WriteFile("ctx/Dockerfile", df)
	w.timedBuild(a, 0, "--push", "-t", image, "--cache-to", "type=inline", "ctx")
	var m v1.Manifest
	if err := json.Unmarshal(w.blob(w.tagged("team/inline", "1")), &m); err != nil || m.Annotations["dev.hush.cache.v1"] == "" {
		t.Fatalf("the pushed manifest has no inline cache: %v %+v", err, m)
	}
	if log, _ := w.timedBuild(b, 0, "--cache-from", image, "ctx"); strings.Contains(log, "step:55") || !strings.Contains(log, "CACHED") {
		t.Errorf("machine B did not build from the inline cache:\n%s", log)
	}
}
