package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestSSHMount: a step reaches the agent through --mount=type=ssh, lists and signs with the
// key given by --ssh, cannot remove it, and the private key is nowhere in what the build leaves.
func TestSSHMount(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	root, err := hushtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx := filepath.Join(env.Dir, "ctx")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(ctx, "agentprobe"), "./internal/hushtest/agentprobe")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building agentprobe: %v\n%s", err, out)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "hush-test")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(env.Dir, "id_test")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(sshPub)
	env.WriteFile("ctx/Dockerfile", "FROM busybox\nCOPY agentprobe /usr/local/bin/\n"+
		"RUN --mount=type=ssh,id=deploy,required agentprobe\n"+
		"RUN --mount=type=ssh,id=deploy,target=/tmp/agent.sock,mode=0660,uid=1000 stat -c 'sock %a %u' /tmp/agent.sock\n")
	out := filepath.Join(env.Dir, "out")
	_, log, code := env.Run("build", "--progress=plain", "--no-cache", "--ssh", "deploy="+keyFile, "-o", "type=local,dest="+out, ctx)
	if code != 0 {
		t.Fatalf("build failed (%d):\n%s", code, log)
	}
	for _, want := range []string{"key " + fp + " sign-verify=true", "removeall refused", "keys=1 after=1", "sock 660 1000"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, p := range []string{"run/buildkit", "tmp/agent.sock"} {
		if _, err := os.Lstat(filepath.Join(out, p)); err == nil {
			t.Errorf("%s is in the image", p)
		}
	}
	// The private key's seed must not be anywhere the build wrote.
	seed := priv.Seed()
	os.Remove(keyFile)
	env.NoCanary(seed)
}
