package conformance

import "strings"

// runtimeStubs are the mount points a runtime creates in a step's rootfs when the base
// lacks them. BuildKit v0.34 leaves them in the step's layer as empty directories; hush
// removes them (docs/differences.md, "Mount-point stubs"), so they are left out here.
var runtimeStubs = map[string]bool{"dev": true, "proc": true, "sys": true}

// normaliseLayer rewrites what legitimately differs between two builders in a layer's
// entries (sorted by path). Each rule names its reason.
func normaliseLayer(entries []Entry) []Entry {
	out := entries[:0:0]
	for i, e := range entries {
		if runtimeStubs[e.Path] && e.Type == "dir" && !hasChildren(entries[i+1:], e.Path) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// hasChildren reports whether the entries after a directory's (sorted) hold one below it.
func hasChildren(rest []Entry, dir string) bool {
	for _, e := range rest {
		if strings.HasPrefix(e.Path, dir+"/") {
			return true
		}
	}
	return false
}
