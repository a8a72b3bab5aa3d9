package builder

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/progress"
)

// TestConcurrentRunsAuditOnlyTheirOwnFiles runs two builds at once on one Builder. Build B
// (no secrets) holds a read-only view of a stage whose file happens to hold build A's
// secret value; while B's step runs, A finishes and audits. A's self-audit reads A's own
// scratch dir, not B's view: A succeeds, and B, untouched, succeeds too.
func TestConcurrentRunsAuditOnlyTheirOwnFiles(t *testing.T) {
	rt := newFakeRuntime()
	b := openBuilder(t, t.TempDir(), rt)
	secrets, value := canarySecrets(t, "tok")
	hb := &harness{t: t, b: b, rt: rt, dir: t.TempDir()}
	hb.file("Dockerfile", "FROM scratch AS s\nRUN write shared.txt "+value+"\n"+
		"FROM scratch\nRUN --mount=type=bind,from=s,target=/s hold\n")
	ha := &harness{t: t, b: b, rt: rt, dir: t.TempDir()}
	ha.file("Dockerfile", "FROM scratch\nRUN write a.txt a\n")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bDone := make(chan error, 1)
	var bLog hushtest.Buffer
	go func() {
		disp, _ := progress.New(&bLog, progress.ModePlain)
		_, err := b.Run(ctx, Request{Context: hb.dir, Progress: disp})
		disp.Close()
		bDone <- err
	}()
	select {
	case <-rt.holding:
	case err := <-bDone:
		t.Fatalf("build B ended before its step held: %v\n%s", err, bLog.String())
	case <-time.After(30 * time.Second):
		t.Fatal("build B's step never started")
	}
	var aLog hushtest.Buffer
	disp, err := progress.New(&aLog, progress.ModePlain)
	if err != nil {
		t.Fatal(err)
	}
	_, aErr := b.Run(ctx, Request{Context: ha.dir, Progress: disp, Secrets: secrets, Audit: "fail"})
	disp.Close()
	close(rt.release)
	if aErr != nil {
		t.Errorf("build A, audited while build B ran: %v\n%s", aErr, aLog.String())
	}
	if strings.Contains(aLog.String(), value) {
		t.Errorf("build A's output holds its secret value:\n%s", aLog.String())
	}
	if err := <-bDone; err != nil {
		t.Errorf("build B: %v\n%s", err, bLog.String())
	}
	// Each Run's scratch dir is gone with it; the builder's own stays until Close.
	if ents, err := os.ReadDir(b.TmpDir); err != nil || len(ents) > 1 {
		t.Errorf("the builder's scratch dir holds %v (%v) after both builds", names(ents), err)
	}
}

func names(ents []os.DirEntry) []string {
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
