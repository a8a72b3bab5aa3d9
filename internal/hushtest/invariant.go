package hushtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Mount is one line of /proc/self/mountinfo that matters to the invariants.
type Mount struct {
	Point  string
	FSType string
	Source string
}

// MountsUnder lists the mounts of this process's mount namespace at or below dir, parsed
// from mountinfo (usually /proc/self/mountinfo).
func MountsUnder(mountinfo, dir string) ([]Mount, error) {
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	dir = filepath.Clean(dir)
	var out []Mount
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		m, ok := parseMountinfo(sc.Text())
		if !ok {
			return nil, fmt.Errorf("parsing mount table line %q", sc.Text())
		}
		if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	return out, nil
}

// parseMountinfo reads "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER".
func parseMountinfo(line string) (Mount, bool) {
	f := strings.Fields(line)
	sep := slices.Index(f, "-")
	if len(f) < 5 || sep < 5 || sep+2 >= len(f) {
		return Mount{}, false
	}
	return Mount{Point: unescapeOctal(f[4]), FSType: f[sep+1], Source: unescapeOctal(f[sep+2])}, true
}

// unescapeOctal undoes the kernel's \NNN escaping of spaces, tabs, newlines and backslashes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// CheckNoMounts fails t if any mount remains at or below dir in this mount namespace.
func CheckNoMounts(t testing.TB, dir string) {
	t.Helper()
	ms, err := MountsUnder("/proc/self/mountinfo", dir)
	if err != nil {
		t.Errorf("checking mounts under %s: %v", dir, err)
		return
	}
	for _, m := range ms {
		t.Errorf("mount left behind under %s: %s (%s from %s)", dir, m.Point, m.FSType, m.Source)
	}
}

// Process is one running process.
type Process struct {
	PID     int
	Cmdline []string
}

// FindProcesses lists the processes (read from procDir, usually /proc) whose command line
// is exactly argv.
func FindProcesses(procDir string, argv ...string) ([]Process, error) {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(procDir, e.Name(), "cmdline"))
		if err != nil || len(data) == 0 {
			continue // exited meanwhile, or a kernel thread
		}
		cmd := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
		if slices.Equal(cmd, argv) {
			out = append(out, Process{PID: pid, Cmdline: cmd})
		}
	}
	return out, nil
}
