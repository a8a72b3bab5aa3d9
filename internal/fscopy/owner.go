package fscopy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/sys/user"

	"github.com/hush-build/hush/internal/fsroot"
)

// maxUserFileBytes bounds how much of /etc/passwd or /etc/group is read.
const maxUserFileBytes = 10 << 20

// ErrUnknownOwner is returned (wrapped) when a --chown user or group name is
// not in the image's /etc/passwd or /etc/group.
var ErrUnknownOwner = errors.New("unknown user or group")

// ResolveOwner parses a --chown value "user[:group]", each part a name or a
// number, the way BuildKit does: a numeric user alone gives gid = uid, a named
// user alone gives that user's primary group from /etc/passwd, "root" is 0,
// and an empty group ("user:") is the same as none. Names are looked up in
// rootfs/etc/passwd and rootfs/etc/group, resolved inside rootfs. Unlike
// BuildKit, which silently falls back to 0, an unknown name is an error
// wrapping ErrUnknownOwner and naming the file consulted.
func ResolveOwner(rootfs, spec string) (Owner, error) {
	userPart, groupPart, _ := strings.Cut(spec, ":")
	if userPart == "" {
		return Owner{}, fmt.Errorf("parsing chown %q: empty user", spec)
	}
	var own Owner
	if id, ok := parseID(userPart); ok {
		own = Owner{UID: id, GID: id}
	} else {
		fields, err := lookup(rootfs, "/etc/passwd", userPart, 4)
		if err != nil {
			return Owner{}, err
		}
		uid, okU := parseID(fields[2])
		gid, okG := parseID(fields[3])
		if !okU || !okG {
			return Owner{}, fmt.Errorf("resolving user %q: malformed entry in /etc/passwd", userPart)
		}
		own = Owner{UID: uid, GID: gid}
	}
	if groupPart == "" {
		return own, nil
	}
	if id, ok := parseID(groupPart); ok {
		own.GID = id
		return own, nil
	}
	fields, err := lookup(rootfs, "/etc/group", groupPart, 3)
	if err != nil {
		return Owner{}, err
	}
	gid, ok := parseID(fields[2])
	if !ok {
		return Owner{}, fmt.Errorf("resolving group %q: malformed entry in /etc/group", groupPart)
	}
	own.GID = gid
	return own, nil
}

// parseID parses a numeric id; "root" is 0 as in BuildKit.
func parseID(s string) (int, bool) {
	if s == "root" {
		return 0, true
	}
	id, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, false
	}
	return int(id), true
}

// lookup returns the colon-separated fields (at least minFields) of the first
// line of file (inside rootfs, symlinks resolved in it) whose first field is name.
func lookup(rootfs, file, name string, minFields int) ([]string, error) {
	kind := "user"
	if file == "/etc/group" {
		kind = "group"
	}
	root, err := fsroot.Open(rootfs)
	if err != nil {
		return nil, fmt.Errorf("resolving %s %q: %w", kind, name, err)
	}
	defer root.Close()
	f, err := root.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if os.IsNotExist(err) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("resolving %s %q: %s does not exist: %w", kind, name, file, ErrUnknownOwner)
		}
		return nil, fmt.Errorf("resolving %s %q: opening %s: %w", kind, name, file, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("resolving %s %q: %s is not a regular file", kind, name, file)
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxUserFileBytes))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if fields[0] == name && len(fields) >= minFields {
			return fields, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("resolving %s %q: reading %s: %w", kind, name, file, err)
	}
	return nil, fmt.Errorf("resolving %s %q: no such %s in %s: %w", kind, name, kind, file, ErrUnknownOwner)
}

// Groups returns the group list a process started as spec ("user[:group]", as USER
// takes it) has, the way BuildKit's executor computes it: none for a numeric "uid:gid";
// otherwise runc's rules (github.com/moby/sys/user): a user without an explicit group also
// gets every group of rootfs/etc/group that lists the user's name as a member. The list
// starts with gid, the primary group.
func Groups(rootfs, spec string, gid uint32) ([]uint32, error) {
	if u, g, ok := strings.Cut(spec, ":"); ok {
		if _, okU := parseID(u); okU {
			if _, okG := parseID(g); okG {
				return []uint32{gid}, nil
			}
		}
	}
	root, err := fsroot.Open(rootfs)
	if err != nil {
		return nil, fmt.Errorf("resolving the groups of %q: %w", spec, err)
	}
	defer root.Close()
	passwd, closeP := openUserFile(root, "/etc/passwd")
	defer closeP()
	group, closeG := openUserFile(root, "/etc/group")
	defer closeG()
	eu, err := user.GetExecUser(spec, nil, passwd, group)
	if err != nil {
		return nil, fmt.Errorf("resolving the groups of %q: %w", spec, err)
	}
	out := []uint32{gid}
	for _, g := range eu.Sgids {
		if g >= 0 && !slices.Contains(out, uint32(g)) {
			out = append(out, uint32(g))
		}
	}
	return out, nil
}

// openUserFile opens /etc/passwd or /etc/group inside root for reading, or returns nil
// (read as missing) when it cannot be opened as a regular file.
func openUserFile(root *fsroot.Root, name string) (io.Reader, func()) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, func() {}
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, func() {}
	}
	return io.LimitReader(f, maxUserFileBytes), func() { f.Close() }
}
