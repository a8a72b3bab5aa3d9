package secretfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"golang.org/x/sys/unix"
)

// ErrNoTmpfs means no writable memory-backed directory was found for a plaintext edit.
var ErrNoTmpfs = errors.New("no tmpfs available for the plaintext")

// EditOptions configure one `hush secret edit` session.
type EditOptions struct {
	// Identities open the existing file; unused when the file does not exist yet.
	Identities []age.Identity
	// Recipients the edited file is encrypted to. Required.
	Recipients []age.Recipient
	// Editor is a command line run by /bin/sh with the plaintext path appended
	// (like git runs $EDITOR); empty means vi.
	Editor string
	// TmpfsDirs are candidate parents for the plaintext, tried in order; each must be
	// on tmpfs (or ramfs). Nil means DefaultTmpfsDirs(os.LookupEnv).
	TmpfsDirs []string
	// Env is the editor's environment; nil means os.Environ(). HUSH_IDENTITY is
	// always removed from it.
	Env []string
	// The editor's standard streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// DefaultTmpfsDirs are the usual memory-backed directories: $XDG_RUNTIME_DIR, /dev/shm,
// /run/shm.
func DefaultTmpfsDirs(lookupEnv func(string) (string, bool)) []string {
	var dirs []string
	if d, ok := lookupEnv("XDG_RUNTIME_DIR"); ok && d != "" {
		dirs = append(dirs, d)
	}
	return append(dirs, "/dev/shm", "/run/shm")
}

// IsTmpfs reports whether dir is on a memory-backed filesystem (tmpfs or ramfs).
func IsTmpfs(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}

// privateTmpfsDir makes a mode-0700 directory under the first memory-backed candidate.
func privateTmpfsDir(candidates []string) (string, error) {
	for _, c := range candidates {
		if !IsTmpfs(c) {
			continue
		}
		if d, err := os.MkdirTemp(c, "hush-edit-"); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: tried %s; hush will not write a decrypted secret to disk", ErrNoTmpfs, strings.Join(candidates, ", "))
}

// Edit decrypts the age file at path (an absent file starts empty) into a private
// directory on tmpfs, runs the editor on it, and, when the text changed, encrypts it to
// opts.Recipients and replaces path atomically. The plaintext file and anything the
// editor left beside it (swap, backup files) are overwritten with zeros and removed on
// every path out. It reports whether path was rewritten.
func Edit(ctx context.Context, path string, opts EditOptions) (changed bool, err error) {
	if len(opts.Recipients) == 0 {
		return false, fmt.Errorf("editing %s: no recipients", path)
	}
	candidates := opts.TmpfsDirs
	if candidates == nil {
		candidates = DefaultTmpfsDirs(os.LookupEnv)
	}
	var old []byte
	exists := false
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		exists = true
		if old, err = Decrypt(data, opts.Identities...); err != nil {
			return false, fmt.Errorf("editing %s: %w", path, err)
		}
		defer clear(old)
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("editing %s: %w", path, err)
	}
	dir, err := privateTmpfsDir(candidates)
	if err != nil {
		return false, fmt.Errorf("editing %s: %w", path, err)
	}
	defer wipeDir(dir)
	plain := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), ".age"))
	if err := os.WriteFile(plain, old, 0o600); err != nil {
		return false, fmt.Errorf("editing %s: %w", path, err)
	}
	if err := runEditor(ctx, opts, plain); err != nil {
		return false, fmt.Errorf("editing %s: %w; the encrypted file is unchanged", path, err)
	}
	edited, err := os.ReadFile(plain)
	if err != nil {
		return false, fmt.Errorf("editing %s: reading the edited text: %w", path, err)
	}
	defer clear(edited)
	if bytes.Equal(edited, old) && (exists || len(edited) == 0) {
		return false, nil
	}
	if err := WriteEncrypted(path, edited, 0o600, opts.Recipients...); err != nil {
		return false, fmt.Errorf("editing %s: %w", path, err)
	}
	return true, nil
}

func runEditor(ctx context.Context, opts EditOptions, file string) error {
	editor := opts.Editor
	if strings.TrimSpace(editor) == "" {
		editor = "vi"
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", editor+` "$@"`, editor, file)
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		if !strings.HasPrefix(kv, EnvIdentity+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running editor %q: %w", editor, err)
	}
	return nil
}

// wipeDir overwrites every regular file under dir with zeros, then removes dir.
func wipeDir(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Size() > 0 {
			if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
				f.Write(make([]byte, fi.Size()))
				f.Close()
			}
		}
		return nil
	})
	os.RemoveAll(dir)
}
