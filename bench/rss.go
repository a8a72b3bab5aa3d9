package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssPoll is how often a process tree's memory is looked at.
const rssPoll = 20 * time.Millisecond

// rssWatcher records the largest VmHWM (peak resident set, KiB) of any process in the tree
// under one pid while it runs. wait4's ru_maxrss cannot serve: a child started by a Go
// program is charged the parent's RSS at exec (the vfork'd address space is the
// parent's), so every child of a big harness looks big. A process that lives less than
// rssPoll may be missed; hush's own processes live as long as the build.
type rssWatcher struct {
	stop chan struct{}
	done sync.WaitGroup
	peak int64
}

func watchRSS(pid int) *rssWatcher {
	w := &rssWatcher{stop: make(chan struct{})}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(rssPoll)
		defer t.Stop()
		for {
			for _, p := range tree(pid) {
				w.peak = max(w.peak, vmHWM(p))
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// Stop ends the watch and returns the peak in KiB.
func (w *rssWatcher) Stop() int64 {
	close(w.stop)
	w.done.Wait()
	return w.peak
}

// tree is pid and its descendants, from /proc/PID/task/TID/children.
func tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(out[i]) + "/task/*/children")
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// vmHWM is a process's peak resident set in KiB (0 when it is gone).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	return parseHWM(b)
}

func parseHWM(status []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	return 0
}
