package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hush-build/hush/internal/bake"
	"github.com/hush-build/hush/internal/remotecache"
)

// allowed is what --allow grants, in buildx's grammar.
type allowed struct {
	networkHost, ssh bool
	read, write      []string // "*" allows any path
}

func parseAllow(in []string) (allowed, error) {
	var a allowed
	for _, e := range in {
		switch k, v, _ := strings.Cut(e, "="); {
		case e == "network.host":
			a.networkHost = true
		case e == "ssh":
			a.ssh = true
		case k == "fs.read":
			a.read = append(a.read, v)
		case k == "fs.write":
			a.write = append(a.write, v)
		case k == "fs":
			a.read, a.write = append(a.read, v), append(a.write, v)
		default:
			return a, fmt.Errorf("--allow %q: unknown entitlement key %q (hush knows network.host, ssh, fs, fs.read, fs.write)", e, k)
		}
	}
	return a, nil
}

// checkEntitlements refuses, as buildx bake does, a build that asks for what --allow did
// not grant: the host network, the default ssh agent, reading files (contexts,
// Dockerfiles, secret sources, ssh keys) or writing outputs outside the working
// directory. BUILDX_BAKE_ENTITLEMENTS_FS=0 turns the filesystem checks off, as in buildx.
func checkEntitlements(targets []*bakeTarget, allow []string, stderr io.Writer) error {
	a, err := parseAllow(allow)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	a.read, a.write = append(a.read, wd), append(a.write, wd)
	var msgs, flags []string
	needSSH := false
	reads, writes := map[string]bool{}, map[string]bool{}
	for _, bt := range targets {
		for _, e := range bt.def.Entitlements {
			if e == "network.host" && !a.networkHost && !slices.Contains(flags, "--allow=network.host") {
				msgs = append(msgs, " - Running build containers that can access host network")
				flags = append(flags, "--allow=network.host")
			}
		}
		for _, p := range bt.readPaths() {
			reads[p] = true
		}
		for _, o := range bt.outs {
			if o.Dest != "" && o.Dest != "-" {
				writes[o.Dest] = true
			}
		}
		for _, e := range bt.cache.to {
			if e.Type == remotecache.TypeLocal { // read and written, as in buildx
				reads[e.Dest], writes[e.Dest] = true, true
			}
		}
		for _, s := range bt.ssh {
			needSSH = needSSH || (len(s.Paths) == 0 && !a.ssh)
		}
	}
	if fsChecks() {
		fsMsgs, fsFlags := missingFS(a, reads, writes, needSSH)
		msgs, flags = append(msgs, fsMsgs...), append(flags, fsFlags...)
	}
	if len(flags) == 0 {
		return nil
	}
	fmt.Fprintf(stderr, "Your build is requesting privileges for following possibly insecure capabilities:\n\n%s\n\n", strings.Join(msgs, "\n"))
	return fmt.Errorf("additional privileges requested: pass %q to grant requested privileges", strings.Join(flags, " "))
}

func fsChecks() bool {
	v, ok := os.LookupEnv("BUILDX_BAKE_ENTITLEMENTS_FS")
	if !ok {
		return true
	}
	on, err := strconv.ParseBool(v)
	return err != nil || on
}

// readPaths are the local files a target's build reads.
func (bt *bakeTarget) readPaths() []string {
	var out []string
	if !bake.IsRemoteURL(bt.context) {
		out = append(out, bt.context)
		if bt.def.DockerfileInline == nil {
			out = append(out, bt.dockerfile)
		}
	}
	for _, s := range bt.def.Secrets {
		if src, env := secretSource(s); env == "" {
			out = append(out, src)
		}
	}
	for _, s := range bt.ssh {
		out = append(out, s.Paths...)
	}
	for _, c := range bt.cache.from {
		if c.Type == remotecache.TypeLocal {
			out = append(out, c.Src)
		}
	}
	return out
}

// missingFS lists the filesystem grants the paths need and --allow lacks.
func missingFS(a allowed, reads, writes map[string]bool, needSSH bool) (msgs, flags []string) {
	if needSSH {
		msgs = append(msgs, " - Forwarding default SSH agent socket")
		flags = append(flags, "--allow=ssh")
	}
	for _, p := range outside(reads, a.read) {
		msgs = append(msgs, " - Read access to path "+p)
		flags = append(flags, "--allow=fs.read="+p)
	}
	for _, p := range outside(writes, a.write) {
		msgs = append(msgs, " - Write access to path "+p)
		flags = append(flags, "--allow=fs.write="+p)
	}
	return msgs, flags
}

// outside lists the paths (resolved) no granted path contains.
func outside(paths map[string]bool, granted []string) []string {
	var roots []string
	for _, g := range granted {
		if g == "*" {
			return nil
		}
		roots = append(roots, resolvePath(g))
	}
	var out []string
	for p := range paths {
		rp := resolvePath(p)
		ok := false
		for _, r := range roots {
			ok = ok || rp == r || r == "/" || strings.HasPrefix(rp, r+string(filepath.Separator))
		}
		if !ok && !slices.Contains(out, rp) {
			out = append(out, rp)
		}
	}
	sort.Strings(out)
	return out
}

// resolvePath is p made absolute with the symlinks of its longest existing prefix
// resolved.
func resolvePath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		} else if !errors.Is(err, os.ErrNotExist) {
			return abs
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}
