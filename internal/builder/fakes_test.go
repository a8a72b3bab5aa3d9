package builder

// The in-process parts the orchestration tests build with: a runtime that runs a RUN step's
// command in the test's process, and mounts made of plain copies instead of overlayfs.
// Everything else — the plan, the cache, the layer and blob stores, leases, the journal of
// unaudited layers, the audit and its ledger — is the real thing, and none of it needs root.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/fsroot"
	"github.com/hush-build/hush/internal/snapshot"
)

// fakeRuntime runs a RUN step's command (shell form: the words after /bin/sh -c) against
// the step's rootfs, in the test's process:
//
//	write NAME TEXT...   writes TEXT to /NAME
//	write-env NAME VAR   writes the value of the step's environment variable VAR to /NAME
//	fail                 prints a line and exits 3
//	meet N               waits until N steps are meeting at once (fails after meetTimeout)
//	block                waits until the build is cancelled
//	wait-block           waits until a step blocks (fails after meetTimeout)
//	hold                 signals holding, then waits until the test closes release
type fakeRuntime struct {
	mu       sync.Mutex
	ran      []string // commands, in the order they started
	meeting  int
	met      chan struct{}
	blocking sync.Once
	blocked  chan struct{}
	holdOnce sync.Once
	holding  chan struct{} // closed when a step runs hold
	release  chan struct{} // closed by the test to end hold
}

// meetTimeout bounds how long a step waits for the others it should meet: long enough for
// a loaded machine, short enough that a build that runs stages one by one fails quickly.
const meetTimeout = 5 * time.Second

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{met: make(chan struct{}), blocked: make(chan struct{}),
		holding: make(chan struct{}), release: make(chan struct{})}
}

// take returns the commands run since the last take.
func (f *fakeRuntime) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ran := f.ran
	f.ran = nil
	return ran
}

func (f *fakeRuntime) Run(ctx context.Context, c *executor.Container) error {
	words := c.Args
	if len(words) == 3 && words[0] == "/bin/sh" && words[1] == "-c" {
		words = strings.Fields(words[2])
	}
	if len(words) == 0 {
		return errors.New("fake runtime: no command")
	}
	f.mu.Lock()
	f.ran = append(f.ran, strings.Join(words, " "))
	f.mu.Unlock()
	switch {
	case words[0] == "write" && len(words) >= 2:
		return writeIn(c.Rootfs, words[1], strings.Join(words[2:], " "))
	case words[0] == "write-env" && len(words) == 3:
		for _, kv := range c.Env {
			if v, ok := strings.CutPrefix(kv, words[2]+"="); ok {
				return writeIn(c.Rootfs, words[1], v)
			}
		}
		return fmt.Errorf("fake runtime: %s is not in the step's environment", words[2])
	case words[0] == "fail":
		fmt.Fprintln(c.Stdout, "failing on purpose")
		return &executor.ExitError{Code: 3}
	case words[0] == "meet" && len(words) == 2:
		n, err := strconv.Atoi(words[1])
		if err != nil {
			return fmt.Errorf("fake runtime: meet %q: %w", words[1], err)
		}
		return f.meet(ctx, n)
	case words[0] == "block":
		f.blocking.Do(func() { close(f.blocked) })
		<-ctx.Done()
		return ctx.Err()
	case words[0] == "wait-block":
		return waitFor(ctx, f.blocked, "no step blocked")
	case words[0] == "hold":
		f.holdOnce.Do(func() { close(f.holding) })
		select {
		case <-f.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
			return errors.New("fake runtime: hold was never released")
		}
	}
	return fmt.Errorf("fake runtime: unknown command %q", words)
}

func (f *fakeRuntime) meet(ctx context.Context, n int) error {
	f.mu.Lock()
	f.meeting++
	if f.meeting == n {
		close(f.met)
	}
	f.mu.Unlock()
	return waitFor(ctx, f.met, fmt.Sprintf("no %d steps ran at the same time", n))
}

// waitFor waits until ch is closed, for at most meetTimeout.
func waitFor(ctx context.Context, ch <-chan struct{}, timeout string) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(meetTimeout):
		return errors.New("fake runtime: " + timeout)
	}
}

// writeIn writes a file at the top of a rootfs.
func writeIn(rootfs, name, text string) error {
	root, err := fsroot.Open(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, text)
	return errors.Join(err, f.Close())
}

// copyMounts stands in for overlayfs without root. Mount copies the lowers into the merged
// dir and, on unmount, moves what the step added or changed into the upper dir, where
// overlay's copy-up would have left it (with its parent dirs). Removing a lower's file
// would need a whiteout: the tests' steps only add and change files, and a removal fails.
type copyMounts struct{}

func (copyMounts) Mount(ws *snapshot.Workspace, lowers []string) (func() error, error) {
	before, err := copyLowers(lowers, ws.Merged)
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := moveChanges(ws.Merged, ws.Upper, before); err != nil {
			return err
		}
		return emptyDir(ws.Merged)
	}, nil
}

func (copyMounts) MountReadOnly(lowers []string, target string) (func() error, error) {
	if _, err := copyLowers(lowers, target); err != nil {
		return nil, err
	}
	return func() error { return emptyDir(target) }, nil
}

// entryState is what tells a changed entry from an unchanged one.
type entryState struct {
	mode  fs.FileMode
	size  int64
	mtime time.Time
}

// copyLowers copies lowers (top-most first) into dir, bottom-most first, and returns the
// state of everything dir then holds.
func copyLowers(lowers []string, dir string) (map[string]entryState, error) {
	for i := len(lowers) - 1; i >= 0; i-- {
		err := fscopy.Copy(fscopy.Source{Root: lowers[i]}, []string{"/"}, dir, "/", "/", fscopy.Options{KeepOwner: true})
		if err != nil {
			return nil, fmt.Errorf("copy mount: %w", err)
		}
	}
	states := map[string]entryState{}
	err := walkBelow(dir, func(rel string, fi fs.FileInfo) error {
		states[rel] = entryState{fi.Mode(), fi.Size(), fi.ModTime()}
		return nil
	})
	return states, err
}

// moveChanges moves the entries of merged that are new or changed since before into upper.
func moveChanges(merged, upper string, before map[string]entryState) error {
	for rel := range before {
		if _, err := os.Lstat(filepath.Join(merged, rel)); err != nil {
			return fmt.Errorf("copy mount: %s was removed, which needs a whiteout: %w", rel, err)
		}
	}
	return walkBelow(merged, func(rel string, fi fs.FileInfo) error {
		was, existed := before[rel]
		if existed && was == (entryState{fi.Mode(), fi.Size(), fi.ModTime()}) {
			return nil
		}
		if err := parentsIn(merged, upper, filepath.Dir(rel)); err != nil {
			return err
		}
		if existed && fi.IsDir() {
			return parentsIn(merged, upper, rel) // copied up; its changed children follow
		}
		if err := os.Rename(filepath.Join(merged, rel), filepath.Join(upper, rel)); err != nil {
			return err
		}
		if fi.IsDir() {
			return filepath.SkipDir // moved whole
		}
		return nil
	})
}

// parentsIn makes dir (relative) and its parents in upper, with the modes they have in merged.
func parentsIn(merged, upper, dir string) error {
	if dir == "." {
		return nil
	}
	if err := parentsIn(merged, upper, filepath.Dir(dir)); err != nil {
		return err
	}
	fi, err := os.Lstat(filepath.Join(merged, dir))
	if err != nil {
		return err
	}
	p := filepath.Join(upper, dir)
	if err := os.Mkdir(p, fi.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Chmod(p, fi.Mode().Perm())
}

// walkBelow calls fn for every entry under dir (not dir itself), parents first.
func walkBelow(dir string, fn func(rel string, fi fs.FileInfo) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return fn(rel, fi)
	})
}

func emptyDir(dir string) error {
	root, err := fsroot.Open(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := root.RemoveAll(e.Name()); err != nil {
			return err
		}
	}
	return nil
}
