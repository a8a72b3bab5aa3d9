package secretfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
)

// The environment variables identities come from.
const (
	EnvIdentity     = "HUSH_IDENTITY"      // identity file contents
	EnvIdentityFile = "HUSH_IDENTITY_FILE" // path of an identity file
)

// DefaultIdentityPath is $XDG_CONFIG_HOME/hush/identity, else ~/.config/hush/identity;
// empty when neither variable is set.
func DefaultIdentityPath(lookupEnv func(string) (string, bool)) string {
	if x, ok := lookupEnv("XDG_CONFIG_HOME"); ok && x != "" {
		return filepath.Join(x, "hush", "identity")
	}
	if h, ok := lookupEnv("HOME"); ok && h != "" {
		return filepath.Join(h, ".config", "hush", "identity")
	}
	return ""
}

// FindIdentities returns the identities of the user: those in $HUSH_IDENTITY and in the
// file named by $HUSH_IDENTITY_FILE when either is set, else those in the file at
// DefaultIdentityPath. lookupEnv is os.LookupEnv in production. When none is found the
// error wraps ErrNoIdentity and lists every place looked in.
func FindIdentities(lookupEnv func(string) (string, bool)) ([]age.Identity, error) {
	var ids []age.Identity
	var looked []string
	if v, ok := lookupEnv(EnvIdentity); ok && strings.TrimSpace(v) != "" {
		got, err := age.ParseIdentities(strings.NewReader(v))
		if err != nil {
			return nil, fmt.Errorf("parsing $%s: %w", EnvIdentity, err)
		}
		ids = append(ids, got...)
	} else {
		looked = append(looked, "$"+EnvIdentity+" (unset)")
	}
	if p, ok := lookupEnv(EnvIdentityFile); ok && p != "" {
		got, err := ReadIdentityFile(p)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", EnvIdentityFile, err)
		}
		ids = append(ids, got...)
	} else {
		looked = append(looked, "$"+EnvIdentityFile+" (unset)")
	}
	if len(ids) > 0 {
		return ids, nil
	}
	p := DefaultIdentityPath(lookupEnv)
	if p == "" {
		looked = append(looked, "the user config dir (neither $XDG_CONFIG_HOME nor $HOME is set)")
		return nil, fmt.Errorf("%w; looked in %s", ErrNoIdentity, strings.Join(looked, ", "))
	}
	got, err := ReadIdentityFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		looked = append(looked, p+" (no such file)")
		return nil, fmt.Errorf("%w; looked in %s; create one with `hush secret keygen -o %s`",
			ErrNoIdentity, strings.Join(looked, ", "), p)
	}
	if err != nil {
		return nil, err
	}
	return got, nil
}

// ReadIdentityFile parses an age identity file (one AGE-SECRET-KEY-1… per line, # comments).
func ReadIdentityFile(path string) ([]age.Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading identity file: %w", err)
	}
	defer clear(data)
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parsing identity file %s: %w", path, err)
	}
	return ids, nil
}

// ParseRecipients turns -r values (age1… strings) and -R files (one per line, # comments)
// into recipients, in order. At least one recipient is required.
func ParseRecipients(values, files []string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for _, v := range values {
		got, err := age.ParseRecipients(strings.NewReader(v))
		if err != nil || len(got) != 1 {
			return nil, fmt.Errorf("parsing recipient %q: not an age recipient (age1…)", v)
		}
		rs = append(rs, got...)
	}
	for _, f := range files {
		got, err := ReadRecipientsFile(f)
		if err != nil {
			return nil, err
		}
		rs = append(rs, got...)
	}
	if len(rs) == 0 {
		return nil, errors.New("no recipients: pass -r RECIPIENT or -R RECIPIENTS_FILE")
	}
	return rs, nil
}

// ReadRecipientsFile parses a recipients file (one age1… per line, # comments).
func ReadRecipientsFile(path string) ([]age.Recipient, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading recipients file: %w", err)
	}
	rs, err := age.ParseRecipients(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parsing recipients file %s: %w", path, err)
	}
	return rs, nil
}

// FormatRecipients renders recipients as a recipients file.
func FormatRecipients(rs []age.Recipient) []byte {
	var b bytes.Buffer
	b.WriteString("# age recipients of the file beside this one; see docs/spec/secret-files.md\n")
	for _, r := range rs {
		if s, ok := r.(fmt.Stringer); ok {
			b.WriteString(s.String() + "\n")
		}
	}
	return b.Bytes()
}

// SidecarPath is where the recipients of an encrypted file are kept for `hush secret
// edit`: FILE.recipients. age files do not name their recipients, so re-encrypting after
// an edit needs this list (or -r/-R).
func SidecarPath(path string) string { return path + ".recipients" }

// Keygen is a new X25519 identity: the identity file text (in age-keygen's layout) and
// the public recipient.
type Keygen struct {
	File      []byte
	Recipient string
}

// GenerateIdentity makes a new X25519 identity.
func GenerateIdentity(now time.Time) (Keygen, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return Keygen{}, fmt.Errorf("generating identity: %w", err)
	}
	rcpt := id.Recipient().String()
	file := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", now.Format(time.RFC3339), rcpt, id.String())
	return Keygen{File: []byte(file), Recipient: rcpt}, nil
}

// WriteNewFile creates path with mode perm and data, failing if it exists.
func WriteNewFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
