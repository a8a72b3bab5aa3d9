package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/scratch"
)

// session is one Run's own part of the state dir: a scratch dir (fetched contexts,
// read-only views, new cache mounts) that only its self-audit reads and purges, and a
// lease on everything it uses, which only it drops. Each Run of a Builder has its own, so
// concurrent Runs never audit, purge or release what another one holds; its lease's ID
// also names the Run in the journal of unaudited layers.
type session struct {
	b       *Builder
	scratch *scratch.Dir
	lease   *lease.Lease
	net     stepNet // the RUN steps' own network (rootless), made on first use
}

// newSession starts a Run's session: a locked scratch dir under tmp/ and a lease.
func (b *Builder) newSession() (*session, error) {
	d, err := scratch.New(filepath.Join(b.root, "tmp"))
	if err != nil {
		return nil, err
	}
	l, err := b.leases.Acquire()
	if err != nil {
		d.Remove()
		return nil, err
	}
	return &session{b: b, scratch: d, lease: l}, nil
}

// dir is the session's scratch dir.
func (s *session) dir() string { return s.scratch.Path() }

// id names the session (its lease) among the live ones.
func (s *session) id() string { return s.lease.ID() }

// close ends the lease, finishes the removals it deferred and removes the scratch dir.
func (s *session) close() error {
	nerr := s.net.close()
	s.lease.Release()
	return errors.Join(nerr, s.b.Images.CollectPending(), s.b.Snapshots.CollectPending(), s.scratch.Remove())
}

// stepNetNS is the network namespace of the session's RUN steps on the default network:
// its own when rootless (stepNet), "" for the host's.
func (s *session) stepNetNS(ctx context.Context, warn func(string)) string {
	return s.net.path(ctx, filepath.Join(s.b.RunDir, "net", s.id()), warn)
}

// mountDir makes a fresh directory in the session's scratch dir to mount a read-only
// view on (or fetch into).
func (s *session) mountDir() (string, func(), error) {
	d, err := os.MkdirTemp(s.dir(), "ro-")
	if err != nil {
		return "", nil, fmt.Errorf("creating mount dir: %w", err)
	}
	return d, func() { os.Remove(d) }, nil
}

// lowers is Lowers with every layer held by l first, so that no purge, removal or prune
// deletes an unpacked layer while it is an overlay lower of the caller's.
func (b *Builder) lowers(l *lease.Lease, layers []v1.Layer) ([]string, error) {
	var refs []string
	for _, layer := range layers {
		d, err := layer.DiffID()
		if err != nil {
			return nil, fmt.Errorf("reading layer diffID: %w", err)
		}
		refs = append(refs, lease.LayerRef(d.String()))
	}
	if err := l.Hold(refs...); err != nil {
		return nil, err
	}
	return Lowers(b.Snapshots, layers)
}
