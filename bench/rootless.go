package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// rootlessBuilder is the name of hush run as an ordinary user (-rootless-user), compared
// with rootful hush (its goal: within rootlessTarget of it).
const (
	rootlessBuilder = "hush-rootless"
	rootlessTarget  = 1.3
)

// rootlessUser is the ordinary user the rootless builder runs hush as: it needs ranges in
// /etc/subuid and /etc/subgid.
type rootlessUser struct {
	name     string
	uid, gid int
}

func lookupRootlessUser(name string) (*rootlessUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("-rootless-user: %w (create it: useradd %s; it gets subordinate IDs)", err, name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &rootlessUser{name: name, uid: uid, gid: gid}, nil
}

// command is bin with args run as the user through setpriv, and the environment it needs
// (its own HOME, so that no root setting leaks in).
func (u *rootlessUser) command(home, bin string, args []string) (string, []string, []string) {
	return "setpriv", append([]string{"--reuid=" + strconv.Itoa(u.uid), "--regid=" + strconv.Itoa(u.gid),
		"--clear-groups", "--", bin}, args...), []string{"HOME=" + home}
}

// own hands dir (created if missing; not what is in it, which the user's hush makes) to
// the user and lets it reach dir's parents. It runs before every command, so it must
// stay cheap.
func (u *rootlessUser) own(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Lchown(dir, u.uid, u.gid); err != nil {
		return fmt.Errorf("handing %s to %s: %w", dir, u.name, err)
	}
	for d := filepath.Dir(dir); d != filepath.Dir(d); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				return err
			}
		}
	}
	return nil
}

// ownSecrets hands the src= files of --secret specs to the user, as a user's own secret
// files are (root, running the other builders, still reads them).
func (u *rootlessUser) ownSecrets(specs []string) error {
	for _, spec := range specs {
		for _, kv := range strings.Split(spec, ",") {
			if src, ok := strings.CutPrefix(kv, "src="); ok {
				if err := u.own(filepath.Dir(src)); err != nil {
					return err
				}
				if err := os.Lchown(src, u.uid, u.gid); err != nil {
					return fmt.Errorf("handing %s to %s: %w", src, u.name, err)
				}
			}
		}
	}
	return nil
}

// rootlessRow compares rootless hush's median with rootful hush's for one case and mode
// (per-run: the cost of one RUN step).
type rootlessRow struct {
	Case   string  `json:"case"`
	Mode   string  `json:"mode"`
	Ratio  float64 `json:"ratio_to_rootful"`
	Target float64 `json:"target"`
}

// rootlessRatios derives the rootless/rootful ratios from the series and per-run rows.
func (r *results) rootlessRatios() []rootlessRow {
	var out []rootlessRow
	for _, s := range r.Series {
		if s.Builder != rootlessBuilder || s.Case == runStepsCase || s.Case == noRunCase {
			continue
		}
		if ref, ok := r.find(s.Case, s.Mode, "hush"); ok {
			out = append(out, rootlessRow{Case: s.Case, Mode: s.Mode, Ratio: ratio(s.Median, ref.Median), Target: rootlessTarget})
		}
	}
	var rootful, rootless time.Duration
	for _, p := range r.PerRun {
		switch p.Builder {
		case "hush":
			rootful = p.PerRun
		case rootlessBuilder:
			rootless = p.PerRun
		}
	}
	if rootful > 0 && rootless > 0 {
		out = append(out, rootlessRow{Case: "per-run", Mode: modeCold, Ratio: ratio(rootless, rootful), Target: rootlessTarget})
	}
	return out
}

// writeRootless prints the rootless rows.
func writeRootless(w io.Writer, rows []rootlessRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\nCASE\tMODE\tROOTLESS / ROOTFUL\tTARGET")
	for _, x := range rows {
		fmt.Fprintf(w, "%s\t%s\t%.2f×\t%s\n", x.Case, x.Mode, x.Ratio, verdict(x.Ratio, x.Target))
	}
}

// finiteRootless is rows with NaN ratios written as 0 (JSON has no NaN).
func finiteRootless(rows []rootlessRow) []rootlessRow {
	out := append([]rootlessRow(nil), rows...)
	for i := range out {
		if math.IsNaN(out[i].Ratio) {
			out[i].Ratio = 0
		}
	}
	return out
}
