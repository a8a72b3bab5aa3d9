package rootless

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Range is one run of subordinate IDs a user may map: Count IDs from Start.
type Range struct {
	Start, Count uint32
}

// SubIDFiles are the files newuidmap and newgidmap read the user's ranges from.
const (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// ReadRanges returns the ranges the file at path (/etc/subuid or /etc/subgid format:
// "name-or-id:start:count" lines) grants to the user named name with ID id, in file order.
func ReadRanges(path, name string, id uint32) ([]Range, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading subordinate IDs: %w", err)
	}
	defer f.Close()
	return parseRanges(f, path, name, id)
}

func parseRanges(r io.Reader, path, name string, id uint32) ([]Range, error) {
	var out []Range
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		owner, rest, ok := strings.Cut(text, ":")
		if !ok || (owner != name && owner != strconv.FormatUint(uint64(id), 10)) {
			continue
		}
		startS, countS, ok := strings.Cut(rest, ":")
		start, err1 := strconv.ParseUint(startS, 10, 32)
		count, err2 := strconv.ParseUint(countS, 10, 32)
		if !ok || err1 != nil || err2 != nil || count == 0 || start+count > 1<<32 {
			return nil, fmt.Errorf("%s:%d: want NAME:START:COUNT with decimal numbers, got %q", path, line, text)
		}
		out = append(out, Range{Start: uint32(start), Count: uint32(count)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

// MapArgs is the argument list newuidmap or newgidmap takes after the PID for a namespace
// whose root is the user's own id and whose IDs 1, 2, … are the ranges in order.
func MapArgs(id uint32, ranges []Range) []string {
	args := []string{"0", strconv.FormatUint(uint64(id), 10), "1"}
	next := uint64(1)
	for _, r := range ranges {
		args = append(args, strconv.FormatUint(next, 10), strconv.FormatUint(uint64(r.Start), 10),
			strconv.FormatUint(uint64(r.Count), 10))
		next += uint64(r.Count)
	}
	return args
}

// Size is how many IDs the namespace has: root plus every range.
func Size(ranges []Range) uint64 {
	n := uint64(1)
	for _, r := range ranges {
		n += uint64(r.Count)
	}
	return n
}
