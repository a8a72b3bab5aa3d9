package main

import (
	"bufio"
	"encoding/base64"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestInterruptedBuild kills a build while its RUN step sleeps, after the step copied a
// secret into its rootfs, and checks that hush exits promptly and leaves no mount, no
// process and no tag behind, that the next command sweeps the killed build's workspace
// (and the secret in it), and that the store still builds afterwards.
func TestInterruptedBuild(t *testing.T) {
	tests := []struct {
		name    string
		sig     syscall.Signal
		group   bool   // signal the whole process group
		sleep   string // unique per case so parallel cases do not see each other's process
		runtime string
	}{
		{"SIGTERM", syscall.SIGTERM, false, "67", "crun"},
		{"SIGINT", syscall.SIGINT, false, "68", "crun"},
		{"SIGKILL group", syscall.SIGKILL, true, "69", "crun"},
		{"SIGKILL hush only, crun", syscall.SIGKILL, false, "70", "crun"},
		{"SIGKILL hush only, runc", syscall.SIGKILL, false, "71", "runc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			requireHush(t)
			hushtest.RequireBinary(t, tt.runtime)
			e := hushtest.NewEnv(t, hushBin)
			canary := []byte("CANARY-fault-" + base64.RawURLEncoding.EncodeToString(randBytes(t, 12)))
			e.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=tok cp /run/secrets/tok /leak && echo step-started && sleep "+tt.sleep+"\n")
			cmd := e.Command("build", "--progress=plain", "--runtime", tt.runtime, "--secret", "id=tok,env=TOK", "-t", "fault", "ctx")
			cmd.Env = append(cmd.Env, "TOK="+string(canary))
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatalf("starting hush build: %v", err)
			}
			t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
			progressLines := make(chan string, 1000)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					progressLines <- sc.Text()
				}
				close(progressLines)
				_, _ = io.Copy(io.Discard, stderr)
			}()
			var log strings.Builder
			started := false
			waitFor(t, 20*time.Second, func() bool {
				for !started {
					select {
					case l, ok := <-progressLines:
						if !ok {
							t.Fatalf("hush build ended before its RUN step ran:\n%s", log.String())
						}
						log.WriteString(l + "\n")
						started = strings.Contains(l, "step-started")
						continue
					default:
					}
					return false
				}
				ps, _ := hushtest.FindProcesses("/proc", "sleep", tt.sleep)
				return len(ps) > 0
			}, "the RUN step to start")

			target := cmd.Process.Pid
			if tt.group {
				target = -target
			}
			start := time.Now()
			if err := syscall.Kill(target, tt.sig); err != nil {
				t.Fatalf("sending %v: %v", tt.sig, err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("hush build exited 0 after %v", tt.sig)
				}
				t.Logf("hush build exited after %v: %v", time.Since(start), err)
				for l := range progressLines {
					log.WriteString(l + "\n")
				}
				t.Logf("progress:\n%s", log.String())
			case <-time.After(10 * time.Second):
				t.Fatalf("hush build still running 10s after %v", tt.sig)
			}

			// The step's process dies with the build (allow the kernel a moment to reap).
			waitFor(t, 5*time.Second, func() bool {
				ps, _ := hushtest.FindProcesses("/proc", "sleep", tt.sleep)
				return len(ps) == 0
			}, "the RUN step's sleep to go away")
			hushtest.CheckNoMounts(t, e.Root)
			if out, _, _ := e.Run("images"); strings.Contains(out, "fault") {
				t.Errorf("the tag of the interrupted build exists:\n%s", out)
			}
			// `hush images` opened the store: the killed build's workspace, whose upper dir
			// held the secret the step copied, is gone.
			e.NoCanary(canary)

			e.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN echo step-started\n")
			if out, errOut, code := e.Run("build", "--progress=plain", "-t", "fault", "ctx"); code != 0 {
				t.Fatalf("build after the interrupted one: exit %d\n%s%s", code, out, errOut)
			}
			if out, _, _ := e.Run("images"); !strings.Contains(out, "fault") {
				t.Errorf("the tag of the rebuilt image is missing:\n%s", out)
			}
		})
	}
}

// waitFor polls cond until it holds or timeout passes, then fails t naming what.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
