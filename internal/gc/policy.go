package gc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// Space is an amount of disk space: bytes, or a percentage of the state dir's filesystem.
type Space struct {
	Bytes   int64
	Percent int64
}

func (s Space) of(disk int64) int64 {
	if s.Bytes != 0 {
		return s.Bytes
	}
	return disk * s.Percent / 100
}

// ParseSpace reads "10GB" (binary units, as docker's flags read sizes) or "20%".
func ParseSpace(v string) (Space, error) {
	if p, ok := strings.CutSuffix(v, "%"); ok {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 || n > 100 {
			return Space{}, fmt.Errorf("%q: want a percentage from 0%% to 100%%", v)
		}
		return Space{Percent: n}, nil
	}
	n, err := units.RAMInBytes(v)
	if err != nil || n < 0 {
		return Space{}, fmt.Errorf("%q: want a size such as 512MB or 10GB", v)
	}
	return Space{Bytes: n}, nil
}

// Policy is the garbage collection hush runs after builds, with buildx's knobs.
type Policy struct {
	ReservedSpace, MaxUsedSpace, MinFreeSpace Space
	// KeepDuration: what was not used for longer goes, whatever the space.
	KeepDuration time.Duration
}

// DefaultPolicy is BuildKit's default on Linux: keep at least 10% of the disk (at most
// 10 GB), use at most 80% (at most 100 GB), free space down to 20% when the disk fills,
// and drop what was not used for 60 days.
func DefaultPolicy() Policy {
	return Policy{ReservedSpace: Space{Percent: 10}, MaxUsedSpace: Space{Percent: 80},
		MinFreeSpace: Space{Percent: 20}, KeepDuration: 60 * 24 * time.Hour}
}

// defaultCaps caps DefaultPolicy's percentages, as BuildKit does.
var defaultCaps = struct{ reserved, maxUsed int64 }{10e9, 100e9}

// ParsePolicy reads "off" (no garbage collection, nil) or comma-separated settings over
// the default: reserved-space=SIZE|N%, max-used-space=SIZE|N%, min-free-space=SIZE|N% (0
// turns one off), keep-duration=DURATION (0 turns it off).
func ParsePolicy(s string) (*Policy, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return nil, nil
	}
	p := DefaultPolicy()
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want KEY=VALUE", f)
		}
		var err error
		switch k {
		case "reserved-space":
			p.ReservedSpace, err = ParseSpace(v)
		case "max-used-space":
			p.MaxUsedSpace, err = ParseSpace(v)
		case "min-free-space":
			p.MinFreeSpace, err = ParseSpace(v)
		case "keep-duration":
			p.KeepDuration, err = time.ParseDuration(v)
		default:
			return nil, fmt.Errorf("unknown setting %q (want reserved-space, max-used-space, min-free-space or keep-duration)", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return &p, nil
}

// LoadPolicy reads the policy from env (the value of $HUSH_GC) when set, else from the
// file conf when it exists (lines or commas, # comments), else the default. nil: off.
func LoadPolicy(env, conf string) (*Policy, error) {
	if strings.TrimSpace(env) != "" {
		p, err := ParsePolicy(env)
		if err != nil {
			return nil, fmt.Errorf("HUSH_GC: %w", err)
		}
		return p, nil
	}
	b, err := os.ReadFile(conf)
	if errors.Is(err, os.ErrNotExist) {
		p := DefaultPolicy()
		return &p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the GC policy: %w", err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l, _, _ = strings.Cut(l, "#"); strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	p, err := ParsePolicy(strings.Join(lines, ","))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", conf, err)
	}
	return p, nil
}

// disk is the size and free space of the filesystem dir is on.
func disk(dir string) (total, free int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("reading free disk space: %w", err)
	}
	return int64(st.Blocks) * st.Bsize, int64(st.Bavail) * st.Bsize, nil
}

// keepBytes is how much cache a size-bound prune keeps, BuildKit's rule: up to
// MaxUsedSpace, less when MinFreeSpace needs it, never below ReservedSpace; 0 when none is
// set (remove every match).
func keepBytes(total int64, dir string, o Options) (int64, error) {
	if o.MaxUsedSpace == 0 && o.ReservedSpace == 0 && o.MinFreeSpace == 0 {
		return 0, nil
	}
	keep := o.MaxUsedSpace
	if o.MinFreeSpace != 0 {
		_, free, err := disk(dir)
		if err != nil {
			return 0, err
		}
		switch excess := o.MinFreeSpace - free; {
		case excess > 0 && keep == 0:
			keep = total - excess
		case excess > 0:
			keep = min(keep, total-excess)
		case keep == 0:
			keep = total // enough free space: nothing to do for it
		}
	}
	return max(keep, o.ReservedSpace), nil
}

// Collect runs the policy on the stores, as BuildKit's default policies do one after the
// other: drop what was unused for KeepDuration; then, least recently used first, what no
// stored image shares until the cache fits; then what images share too (their blobs
// stay). It skips when another collection is running. It returns the bytes freed.
func Collect(st Stores, p Policy) (int64, error) {
	f, err := os.OpenFile(st.Lock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, fmt.Errorf("collecting garbage: %w", err)
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return 0, nil // another collection runs
	}
	size, _, err := disk(st.Trash)
	if err != nil {
		return 0, err
	}
	space := Options{ReservedSpace: p.ReservedSpace.of(size), MaxUsedSpace: p.MaxUsedSpace.of(size), MinFreeSpace: p.MinFreeSpace.of(size)}
	if def := DefaultPolicy(); p.ReservedSpace == def.ReservedSpace {
		space.ReservedSpace = min(space.ReservedSpace, defaultCaps.reserved)
	}
	if def := DefaultPolicy(); p.MaxUsedSpace == def.MaxUsedSpace {
		space.MaxUsedSpace = min(space.MaxUsedSpace, defaultCaps.maxUsed)
	}
	var tiers []Options
	if p.KeepDuration > 0 {
		tiers = append(tiers, Options{KeepDuration: p.KeepDuration})
	}
	all := space
	all.All = true
	tiers = append(tiers, space, all)
	u, err := read(st)
	if err != nil {
		return 0, err
	}
	var freed int64
	for _, o := range tiers {
		if o.MaxUsedSpace == 0 && o.ReservedSpace == 0 && o.MinFreeSpace == 0 && o.KeepDuration == 0 {
			continue // a tier without a bound would remove everything
		}
		res, err := prune(st, u, o, nil)
		if err != nil {
			return freed, err
		}
		freed += res.Freed
		if len(res.Records) > 0 { // the next tier sees what is left
			if u, err = read(st); err != nil {
				return freed, err
			}
		}
	}
	return freed, nil
}
