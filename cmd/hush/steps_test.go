package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/jet/jettest"
	"github.com/hush-build/hush/internal/registry/registrytest"
	"github.com/hush-build/hush/internal/secretfile"
)

// pipelineFixture is a Codeship pipeline in a test's work dir, its secrets Jet-encrypted
// under a fresh project key, each secret a random canary.
type pipelineFixture struct {
	dir                        string
	argCanary, envCanary, pass string
	key                        []byte
}

func canary(t *testing.T, what string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "CANARY-" + what + "-" + hex.EncodeToString(b)
}

func sha16(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

// jetFile writes plaintext Jet-encrypted (v2, or v1) under the fixture's key.
func (f *pipelineFixture) jetFile(t *testing.T, name, plaintext string, v2 bool) {
	t.Helper()
	enc, err := jettest.Encrypt(f.key, []byte(plaintext), v2)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, name), enc, 0o644); err != nil {
		t.Fatal(err)
	}
}

const stepsServices = `app:
  build:
    context: app
    args:
      PLAIN: plain-value
    encrypted_args_file: args.encrypted
  encrypted_env_file: env.encrypted
  links:
    - db:database
  volumes:
    - ./artifacts:/artifacts
db:
  image: busybox
  command: sh -c "mkdir -p /www && echo pong > /www/ping && exec httpd -f -p 8080 -h /www"
gen:
  build:
    context: gen
  encrypted_env_file: gen.env.encrypted
`

const stepsSteps = `- name: check
  service: app
  command: sh -c 'cat /plain.txt /token.sha; printf %s "$API_KEY" | sha256sum | cut -c1-16; echo "ci $CI_BRANCH $CI_COMMIT_ID $CI"; for i in $(seq 1 50); do wget -q -O- http://database:8080/ping && break; sleep 0.1; done; echo artifact-data > /artifacts/a.txt; sleep 1'
- name: same-port
  type: parallel
  steps:
    - name: left
      service: app
      command: sh -c 'httpd -p 9000 -h /artifacts && sleep 0.5 && wget -q -O- http://127.0.0.1:9000/a.txt'
    - name: right
      service: app
      command: sh -c 'httpd -p 9000 -h /artifacts && sleep 0.5 && wget -q -O- http://127.0.0.1:9000/a.txt'
- name: release-only
  service: app
  tag: ^release/
  command: echo SHOULD-NOT-RUN-TAG
- name: excluded
  service: app
  tag: ^ma
  exclude: ^main$
  command: echo SHOULD-NOT-RUN-EXCLUDE
- name: included
  service: app
  tag: main
  command: echo included-ran
- type: serial
  service: app
  registry: REGISTRY
  steps:
    - name: push-jet
      type: push
      image_name: REGISTRY/team/app
      image_tag: '{{.Branch}}-{{printf "%.7s" .CommitID}}'
      encrypted_dockercfg_path: dockercfg.encrypted
    - name: push-gen
      type: push
      image_name: REGISTRY/team/app
      image_tag: gen
      dockercfg_service: gen
`

// newPipelineFixture writes the pipeline: an app built with a plain and a Jet-encrypted
// build arg (the Dockerfile mounts the encrypted one as a build secret), a linked db, a
// generator service, and Jet-encrypted env, args, dockercfg and generator env.
func newPipelineFixture(t *testing.T, env *hushtest.Env, host, pass string) *pipelineFixture {
	f := &pipelineFixture{dir: filepath.Join(env.Dir, "pipe"), argCanary: canary(t, "arg"),
		envCanary: canary(t, "env"), pass: pass, key: make([]byte, 32)}
	if _, err := rand.Read(f.key); err != nil {
		t.Fatal(err)
	}
	env.WriteFile("pipe/codeship.aes", string(jettest.KeyFile(f.key)))
	env.WriteFile("pipe/codeship-services.yml", stepsServices)
	env.WriteFile("pipe/codeship-steps.yml", strings.ReplaceAll(stepsSteps, "REGISTRY", host))
	env.WriteFile("pipe/app/Dockerfile", "FROM busybox\nARG PLAIN\nRUN echo \"plain=$PLAIN\" > /plain.txt\n"+
		"RUN --mount=type=secret,id=NPM_TOKEN,env=NPM_TOKEN sh -c 'printf %s \"$NPM_TOKEN\" | sha256sum | cut -c1-16 > /token.sha'\n")
	env.WriteFile("pipe/gen/gen.sh", "for last; do :; done\necho \"generator writes $last\"\n"+
		"printf '{\"auths\":{\""+host+"\":{\"auth\":\"%s\"}}}' \"$REG_AUTH\" > \"$last\"\n")
	env.WriteFile("pipe/gen/Dockerfile", "FROM busybox\nCOPY gen.sh /gen.sh\nENTRYPOINT [\"/bin/sh\", \"/gen.sh\"]\n")
	auth := base64.StdEncoding.EncodeToString([]byte("ci:" + f.pass))
	f.jetFile(t, "args.encrypted", "NPM_TOKEN="+f.argCanary+"\n", true)
	f.jetFile(t, "env.encrypted", "API_KEY="+f.envCanary+"\n", false)
	f.jetFile(t, "gen.env.encrypted", "REG_AUTH="+auth+"\n", true)
	f.jetFile(t, "dockercfg.encrypted", `{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`, true)
	return f
}

// watchArgv polls every process's command line for the canaries until stop is called,
// and returns what it saw.
func watchArgv(canaries []string) (stop func() []string) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var hits []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
				if err != nil {
					continue
				}
				for _, c := range canaries {
					if bytes.Contains(b, []byte(c)) {
						mu.Lock()
						hits = append(hits, fmt.Sprintf("pid %s: %q", e.Name(), bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
						mu.Unlock()
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() []string {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return hits
	}
}

// TestStepsPipeline runs a Codeship pipeline end to end: builds with plain and encrypted
// args, a linked service reached by name, a parallel group binding one port twice, an
// artifact carried by a volume, tag/exclude filtering, and pushes to a real registry with
// a Jet-encrypted dockercfg and with a generator service. No canary may reach argv (polled
// while the steps run), the output, the store, the images or any file the test owns.
func TestStepsPipeline(t *testing.T) {
	requireHush(t)
	hushtest.RequireBinary(t, "pasta")
	env := hushtest.NewEnv(t, hushBin)
	pass := canary(t, "pass")
	srv := registrytest.Start(t, map[string]string{"ci": pass})
	f := newPipelineFixture(t, env, srv.Host, pass)
	canaries := []string{f.argCanary, f.envCanary, f.pass}

	stop := watchArgv(canaries)
	out, errOut, code := env.Run("steps", "--progress=plain", "--push", "--tag", "main", "--ci-branch", "main",
		"--ci-commit-id", "0123456789abcdef", "--registry-ca", srv.CAFile, f.dir)
	if hits := stop(); len(hits) > 0 {
		t.Errorf("a canary was in a process's argv: %v", hits)
	}
	if code != 0 {
		t.Fatalf("hush steps: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"check | plain=plain-value\n", "check | " + sha16(f.argCanary) + "\n", "check | " + sha16(f.envCanary) + "\n",
		"check | ci main 0123456789abcdef true\n", "check | pong\n",
		"left | artifact-data\n", "right | artifact-data\n", "included | included-ran\n",
		"release-only  skipped (tag)", "excluded      skipped (exclude)", "push-jet      passed", "push-gen      passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s\nstderr:\n%s", want, out, errOut)
		}
	}
	if strings.Contains(out, "SHOULD-NOT-RUN") {
		t.Errorf("a filtered step ran:\n%s", out)
	}
	if !strings.Contains(errOut, "generator writes /hush-generator/dockercfg") {
		t.Errorf("the generator's log is not shown:\n%s", errOut)
	}
	for _, tag := range []string{"main-0123456", "gen"} {
		ref, err := name.ParseReference(srv.Host + "/team/app:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(ref, remote.WithTransport(srv.Transport()),
			remote.WithAuth(&authn.Basic{Username: "ci", Password: f.pass})); err != nil {
			t.Errorf("pushed image %s: %v", ref, err)
		}
	}
	for _, c := range canaries {
		if strings.Contains(out+errOut, c) {
			t.Errorf("canary %s in the output", c[:12])
		}
		env.NoCanary([]byte(c), srv.Dir)
	}
}

// TestStepsAuditAdvice: an encrypted build arg the Dockerfile reads as an ARG lands in the
// image history; the self-audit fails the pipeline with the advice to mount it as a
// secret, and --audit=warn keeps Codeship's behaviour.
func TestStepsAuditAdvice(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	f := &pipelineFixture{dir: filepath.Join(env.Dir, "leaky"), argCanary: canary(t, "leak"), key: make([]byte, 32)}
	if _, err := rand.Read(f.key); err != nil {
		t.Fatal(err)
	}
	env.WriteFile("leaky/codeship.aes", string(jettest.KeyFile(f.key)))
	env.WriteFile("leaky/codeship-services.yml", "app:\n  build:\n    context: .\n    encrypted_args_file: args.encrypted\n")
	env.WriteFile("leaky/codeship-steps.yml", "- service: app\n  command: 'true'\n")
	env.WriteFile("leaky/Dockerfile", "FROM busybox\nARG NPM_TOKEN\nRUN echo \"token of ${#NPM_TOKEN} bytes\"\n")
	f.jetFile(t, "args.encrypted", "NPM_TOKEN="+f.argCanary+"\n", true)
	out, errOut, code := env.Run("steps", "--progress=plain", "--network=none", f.dir)
	if code != 1 || !strings.Contains(errOut, "RUN --mount=type=secret,id=NPM_TOKEN,env=NPM_TOKEN") ||
		!strings.Contains(errOut, "--audit=warn") || !strings.Contains(errOut, "audit found") {
		t.Fatalf("want the audit to fail with advice: exit %d\n%s%s", code, out, errOut)
	}
	out2, errOut2, code := env.Run("steps", "--progress=plain", "--network=none", "--audit=warn", f.dir)
	if code != 0 || !strings.Contains(out2, "passed") {
		t.Fatalf("--audit=warn: exit %d\n%s%s", code, out2, errOut2)
	}
	// A failing RUN that prints the value: the error quoting its last lines is masked too.
	env.WriteFile("leaky/fail-services.yml", "app:\n  build:\n    dockerfile: fail.Dockerfile\n    encrypted_args_file: args.encrypted\n")
	env.WriteFile("leaky/fail.Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=NPM_TOKEN,env=T sh -c 'echo \"value: $T\"; exit 3'\n")
	out3, errOut3, code := env.Run("steps", "--progress=plain", "--network=none", "--services-path", "fail-services.yml", f.dir)
	if code != 1 || !strings.Contains(errOut3, "value: ****") {
		t.Fatalf("failing build: exit %d\n%s%s", code, out3, errOut3)
	}
	if strings.Contains(out+errOut+out2+errOut2+out3+errOut3, f.argCanary) {
		t.Error("the encrypted arg's value is in the output")
	}
}

// TestRunService: hush run builds the service and its links, runs the given command with
// the links reachable by name, and exits with the command's status.
func TestRunService(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	f := newPipelineFixture(t, env, "registry.invalid", canary(t, "pass"))
	out, errOut, code := env.Run("run", "--progress=quiet", "--network=none", "--dir", f.dir, "app",
		"sh", "-c", `for i in $(seq 1 50); do wget -q -O- http://database:8080/ping && break; sleep 0.1; done; printf %s "$API_KEY" | sha256sum | cut -c1-16; exit 7`)
	if code != 7 || !strings.Contains(out, "pong\n") || !strings.Contains(out, sha16(f.envCanary)) {
		t.Fatalf("hush run: exit %d (want 7)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestStepsRefusals: a volume that climbs out of the repository and a regex Go cannot
// run are errors naming file:line, before any container runs.
func TestStepsRefusals(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	env.WriteFile("r/codeship-services.yml", "app:\n  image: busybox\n  volumes:\n    - ../outside:/x\n")
	env.WriteFile("r/codeship-steps.yml", "- service: app\n  command: 'true'\n")
	_, errOut, code := env.Run("steps", "--network=none", filepath.Join(env.Dir, "r"))
	if code != 1 || !strings.Contains(errOut, "codeship-services.yml:4: volume ../outside:/x: climbs out of the repository") {
		t.Errorf("climbing volume: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(env.Dir, "outside")); err == nil {
		t.Error("the refused volume dir was created")
	}
}

// TestStepsInterrupt: SIGINT while a step and its linked service run stops both and
// leaves no process (and, through NewEnv's cleanup, no mount).
func TestStepsInterrupt(t *testing.T) {
	requireHush(t)
	hushtest.RequireBinary(t, "pasta")
	env := hushtest.NewEnv(t, hushBin)
	env.WriteFile("i/codeship-services.yml", "app:\n  image: busybox\n  links: [db]\ndb:\n  image: busybox\n  command: sleep 3131\n")
	env.WriteFile("i/codeship-steps.yml", "- name: long\n  service: app\n  command: sh -c 'echo started; exec sleep 3132'\n")
	cmd := env.Command("steps", "--progress=quiet", filepath.Join(env.Dir, "i"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		p1, _ := hushtest.FindProcesses("/proc", "sleep", "3131")
		p2, _ := hushtest.FindProcesses("/proc", "sleep", "3132")
		if len(p1) > 0 && len(p2) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the step and its linked service did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err == nil {
		t.Errorf("interrupted hush steps exited 0:\n%s", out.String())
	}
	for _, argv := range [][]string{{"sleep", "3131"}, {"sleep", "3132"}} {
		if ps, _ := hushtest.FindProcesses("/proc", argv...); len(ps) > 0 {
			t.Errorf("%v still running after Ctrl-C: %v", argv, ps)
		}
	}
	if ps, _ := findPasta(env.Root); len(ps) > 0 {
		t.Errorf("pasta still running: %v", ps)
	}
}

// findPasta lists pasta processes serving a namespace under root.
func findPasta(root string) ([]string, error) {
	var out []string
	ents, err := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte("pasta")) && bytes.Contains(b, []byte(root)) {
			out = append(out, e.Name())
		}
	}
	return out, err
}

// TestStepsAgeAndComposeSecrets: an age-encrypted env file (hush identities) reaches the
// step's process, and a compose build secret (top-level secrets: environment:) reaches
// the RUN that mounts it; neither value reaches the output or a file the test owns.
func TestStepsAgeAndComposeSecrets(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	ageCanary, composeCanary := canary(t, "age"), canary(t, "compose")
	kg, err := secretfile.GenerateIdentity(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUSH_IDENTITY", string(kg.File))
	t.Setenv("TOK_ENV", composeCanary)
	rcpts, err := secretfile.ParseRecipients([]string{kg.Recipient}, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := secretfile.Encrypt([]byte("A="+ageCanary+"\n"), rcpts...)
	if err != nil {
		t.Fatal(err)
	}
	env.WriteFile("a/env.age", string(enc))
	env.WriteFile("a/docker-compose.yml", `services:
  app:
    build:
      context: .
      secrets: [{source: tok, target: TOKEN}]
    env_file: env.age
secrets:
  tok:
    environment: TOK_ENV
`)
	env.WriteFile("a/codeship-steps.yml", "- name: show\n  service: app\n  command: |-\n    sh -c 'cat /t; printf %s \"$A\" | sha256sum | cut -c1-16; grep Seccomp: /proc/self/status; grep \" / \" /proc/self/mounts'\n")
	env.WriteFile("a/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=TOKEN,env=T sh -c 'printf %s \"$T\" | sha256sum | cut -c1-16 > /t'\n")
	out, errOut, code := env.Run("steps", "--progress=plain", "--network=none", filepath.Join(env.Dir, "a"))
	if code != 0 || !strings.Contains(out, "show | "+sha16(composeCanary)+"\n") || !strings.Contains(out, "show | "+sha16(ageCanary)+"\n") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The step container is confined as build steps are: seccomp filter, nodev rootfs.
	if !strings.Contains(out, "Seccomp:\t2") || !regexpNodevRoot.MatchString(out) {
		t.Errorf("step container not confined (want Seccomp 2 and a nodev rootfs):\n%s", out)
	}
	for _, c := range []string{ageCanary, composeCanary} {
		if strings.Contains(out+errOut, c) {
			t.Errorf("canary %s in the output", c[:12])
		}
		env.NoCanary([]byte(c))
	}
}

var regexpNodevRoot = regexp.MustCompile(`show \| overlay / overlay [^ ]*nodev`)

// TestStepsOutbound: with --network=default a step reaches the outside (here the host,
// through pasta's gateway address) from its own namespace; with --network=none it cannot.
func TestStepsOutbound(t *testing.T) {
	requireHush(t)
	hushtest.RequireBinary(t, "pasta")
	env := hushtest.NewEnv(t, hushBin)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "outside-ok\n") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	env.WriteFile("o/codeship-services.yml", "app:\n  image: busybox\n")
	env.WriteFile("o/codeship-steps.yml", fmt.Sprintf("- name: fetch\n  service: app\n  command: |-\n    sh -c 'gw=$(ip route | grep ^default | cut -d\" \" -f3); wget -q -O- http://$gw:%d/'\n", port))
	out, errOut, code := env.Run("steps", "--progress=quiet", "--network=default", filepath.Join(env.Dir, "o"))
	if code != 0 || !strings.Contains(out, "fetch | outside-ok\n") {
		t.Fatalf("--network=default: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	out, errOut, code = env.Run("steps", "--progress=quiet", "--network=none", filepath.Join(env.Dir, "o"))
	if code == 0 || strings.Contains(out, "outside-ok") {
		t.Fatalf("--network=none reached the outside: exit %d\n%s%s", code, out, errOut)
	}
}

// TestStepsAddDocker: add_docker binds the host's docker socket and sets DOCKER_HOST when
// the host has one; without one it is an error naming the service.
func TestStepsAddDocker(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	env.WriteFile("d/codeship-services.yml", "deployer:\n  image: busybox\n  add_docker: true\n")
	env.WriteFile("d/codeship-steps.yml", "- name: sock\n  service: deployer\n  command: sh -c 'test -S /var/run/docker.sock && echo \"socket $DOCKER_HOST\"'\n")
	out, errOut, code := env.Run("steps", "--progress=quiet", "--network=none", filepath.Join(env.Dir, "d"))
	if fi, err := os.Stat("/var/run/docker.sock"); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if code != 0 || !strings.Contains(out, "sock | socket unix:///var/run/docker.sock\n") {
			t.Fatalf("with a docker socket: exit %d\n%s%s", code, out, errOut)
		}
		return
	}
	if code == 0 || !strings.Contains(errOut, "service deployer: add_docker: there is no docker socket") {
		t.Fatalf("without a docker socket: exit %d\n%s%s", code, out, errOut)
	}
}
