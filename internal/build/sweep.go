package build

import (
	"errors"
	"path/filepath"

	"github.com/hush-build/hush/internal/scratch"
	"github.com/hush-build/hush/internal/snapshot"
)

// Sweep removes what builds that died (kill -9, a crash) left in the state dir root: their
// workspaces (an upper dir may hold a file a step wrote, a secret included), unfinished
// layer unpacks and scratch dirs. Live builds' dirs are held by locks and left alone. Every
// hush command that opens the store calls it first.
func Sweep(root string) error {
	return errors.Join(
		snapshot.Prune(filepath.Join(root, "snapshots")),
		scratch.Sweep(filepath.Join(root, "tmp"), nil),
	)
}
