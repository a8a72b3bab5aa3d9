package builder

import (
	"strconv"
	"strings"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/plan"
)

// Host is one --add-host entry; Ulimit one --ulimit entry.
type (
	Host   = executor.Host
	Ulimit = executor.Ulimit
)

// RunLimits are buildx's --add-host, --ulimit and --shm-size: they apply to every RUN.
type RunLimits struct {
	ExtraHosts []Host
	Ulimits    []Ulimit
	// ShmSize is /dev/shm's size in bytes; 0 means 64 MiB.
	ShmSize int64
}

// Entitlements are what --allow grants.
type Entitlements struct {
	NetworkHost      bool // network.host: RUN --network=host
	SecurityInsecure bool // security.insecure: RUN --security=insecure
}

// limits are the executor's settings for a RUN step.
func (r *run) limits(step *plan.Step) executor.Limits {
	l := r.opts.Limits
	return executor.Limits{ExtraHosts: l.ExtraHosts, Ulimits: l.Ulimits, ShmSize: l.ShmSize,
		Insecure: step.Security == "insecure"}
}

// addLimitKeys adds the settings that change what a RUN step sees to its cache key, as
// BuildKit's exec op carries them; a setting left at its default adds nothing, so keys
// without them stay those of earlier builds.
func addLimitKeys(k *cache.Key, l executor.Limits) {
	if len(l.ExtraHosts) > 0 {
		var hs []string
		for _, h := range l.ExtraHosts {
			hs = append(hs, h.Name+"="+h.IP)
		}
		k.AddList("add-host", hs)
	}
	if len(l.Ulimits) > 0 {
		var us []string
		for _, u := range l.Ulimits {
			us = append(us, u.Name+"="+strconv.FormatInt(u.Soft, 10)+":"+strconv.FormatInt(u.Hard, 10))
		}
		k.AddList("ulimit", us)
	}
	if l.ShmSize > 0 {
		k.Add("shm-size", strconv.FormatInt(l.ShmSize, 10))
	}
	if l.Insecure {
		k.Add("security", "insecure")
	}
}

// noCache reports whether the steps of st skip the cache: --no-cache, or --no-cache-filter
// naming st or a stage st is built FROM (whose new results the cache key cannot tell).
func (r *run) noCache(st *plan.Stage) bool {
	if r.opts.NoCache {
		return true
	}
	for s := st; s != nil; s = s.BaseStage {
		for _, f := range r.opts.NoCacheFilter {
			if s.Name != "" && strings.EqualFold(f, s.Name) {
				return true
			}
		}
	}
	return false
}
