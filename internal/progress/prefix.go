package progress

import "strings"

// Prefixed returns a view of d for one of several builds that share it (hush bake's
// targets): each step it starts is named with the prefix as buildx names a bake target's
// vertices ("[app 2/5] RUN make", "[app] auditing …"), each warning is prefixed likewise.
// Close on the view does nothing: the owner closes d.
func (d *Display) Prefixed(prefix string) *Display {
	root := d
	if d.root != nil {
		root, prefix = d.root, d.prefix+" "+prefix
	}
	return &Display{root: root, prefix: prefix, mode: root.mode}
}

// prefixed names a step of a prefixed view.
func prefixed(prefix, name string) string {
	if rest, ok := strings.CutPrefix(name, "["); ok {
		return "[" + prefix + " " + rest
	}
	return "[" + prefix + "] " + name
}
