package main

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// settleDirty is how much dirty or writeback memory may remain when a timed run starts.
const settleDirty = 16 << 20

// settle flushes dirty pages to disk (sync) and waits, up to maxWait, until the kernel
// reports less than settleDirty bytes dirty or under writeback, so that what one run wrote
// is not written back during the next one (and does not land in its fsyncs or overlay
// unmounts). It returns how long it took.
func settle(ctx context.Context, maxWait time.Duration) time.Duration {
	start := time.Now()
	syscall.Sync()
	for time.Since(start) < maxWait && ctx.Err() == nil {
		if dirty, err := dirtyBytes(); err != nil || dirty < settleDirty {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// dirtyBytes is Dirty + Writeback from /proc/meminfo.
func dirtyBytes() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseDirty(bufio.NewScanner(f)), nil
}

func parseDirty(sc *bufio.Scanner) int64 {
	var total int64
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || (f[0] != "Dirty:" && f[0] != "Writeback:") {
			continue
		}
		if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			total += kb << 10
		}
	}
	return total
}
