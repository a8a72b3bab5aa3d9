package builder

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/hush-build/hush/internal/netns"
	"github.com/hush-build/hush/internal/rootless"
)

// stepNet is the network namespace a rootless Run's RUN steps share on the default
// network, as buildah and podman give rootless steps theirs: outbound traffic through
// pasta (or slirp4netns), and nothing of the host's own network namespace — its loopback
// services and abstract unix sockets, which would take a step for the user — within
// reach. Made at the first RUN step that needs it (a cached build pays nothing), closed
// with the session. Without a usable helper or /dev/net/tun the steps keep the host's
// network, with a warning naming the fix.
type stepNet struct {
	once sync.Once
	ns   *netns.NS
	dir  string // made for ns (netns.New); removed with it
}

// privateDefaultNet reports whether the default network of RUN steps is a namespace of
// the Run's own (rootless) rather than the host's.
func privateDefaultNet() bool { return rootless.InUserNS() }

// path is the namespace to join, or "" for the host's network: rootful, or rootless
// without a user-mode network (warned about once). Decided at the first call.
func (n *stepNet) path(ctx context.Context, dir string, warn func(string)) string {
	n.once.Do(func() {
		if !privateDefaultNet() {
			return
		}
		if err := n.open(ctx, dir); err != nil {
			warn(fmt.Sprintf("RUN steps share the host's network: a network of their own needs a user-mode network (%v); "+
				"pass --network=host to choose the host's, or --network=none", err))
		}
	})
	if n.ns == nil {
		return ""
	}
	return n.ns.Path
}

// open makes the namespace in dir and connects it.
func (n *stepNet) open(ctx context.Context, dir string) error {
	if _, _, err := netns.Helper(); err != nil {
		return err
	}
	n.dir = dir
	ns, err := netns.New(dir, "steps.netns")
	if err != nil {
		return err
	}
	if err := ns.Connect(context.WithoutCancel(ctx)); err != nil {
		ns.Close()
		return err
	}
	n.ns = ns
	return nil
}

// close stops the helper and releases the namespace.
func (n *stepNet) close() error {
	var err error
	if n.ns != nil {
		err = n.ns.Close()
	}
	if n.dir != "" {
		os.Remove(n.dir)
	}
	return err
}
