package sink

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/hush-build/hush/internal/outfile"
)

// Output is one parsed --output value.
type Output struct {
	Spec string // the flag value, for errors
	Type string // oci, docker, local, tar, image
	Dest string // "-" is stdout
	Tar  bool   // oci: write a tar archive instead of a layout dir
	Name string
	Push bool
}

// ToStdout reports whether the output streams to stdout (dest=-).
func (o Output) ToStdout() bool { return o.Dest == "-" }

// writesDir reports whether the output is a directory (type=local, or an
// OCI layout) rather than a file or stream.
func (o Output) writesDir() bool {
	return o.Type == "local" || (o.Type == "oci" && !o.Tar)
}

// Parse reads buildx's --output grammar: CSV key=value pairs, a bare
// path meaning type=local,dest=PATH, or "-" meaning type=tar,dest=-.
// type=tar and type=oci without dest stream to stdout, as in buildx;
// type=local,dest=- (which buildx refuses) is a tar of the rootfs on stdout,
// the same as type=tar,dest=-.
func Parse(s string) (Output, error) {
	switch {
	case strings.TrimSpace(s) == "":
		return Output{}, fmt.Errorf("--output %q: empty value: want type=TYPE[,dest=PATH], a directory, or - for a tar on stdout", s)
	case s == "-":
		return Output{Spec: s, Type: "tar", Dest: "-"}, nil
	case !strings.Contains(s, "="):
		return Output{Spec: s, Type: "local", Dest: s}, nil
	}
	o, destSet, tarSet, err := parseOutputFields(s)
	if err != nil {
		return o, err
	}
	switch o.Type {
	case "image":
		return o, nil
	case "registry":
		if o.Name == "" {
			return o, fmt.Errorf("--output %q: type=registry needs name=REF", s)
		}
		o.Type, o.Push = "image", true
		return o, nil
	case "local", "tar", "oci", "docker":
	case "":
		return o, fmt.Errorf("--output %q: type is required (oci, docker, local, tar, image, registry)", s)
	default:
		return o, fmt.Errorf("--output %q: unsupported type %q (supported: oci, docker, local, tar, image, registry)", s, o.Type)
	}
	if destSet && o.Dest == "" {
		return o, fmt.Errorf("--output %q: dest is empty: want dest=PATH, or dest=- for stdout", s)
	}
	return resolveDest(o, destSet, tarSet)
}

// parseOutputFields splits the CSV key=value pairs of s.
func parseOutputFields(s string) (o Output, destSet, tarSet bool, err error) {
	o.Spec = s
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return o, false, false, fmt.Errorf("--output %q: %w", s, err)
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return o, false, false, fmt.Errorf("--output %q: invalid value %q: want key=value", s, f)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest, destSet = v, true
		case "name":
			o.Name = v
		case "push":
			if o.Push, err = strconv.ParseBool(v); err != nil {
				return o, false, false, fmt.Errorf("--output %q: push=%s: want true or false", s, v)
			}
		case "tar":
			if o.Tar, err = strconv.ParseBool(v); err != nil {
				return o, false, false, fmt.Errorf("--output %q: tar=%s: want true or false", s, v)
			}
			tarSet = true
		default:
			return o, false, false, fmt.Errorf("--output %q: unsupported key %q (supported: type, dest, name, tar, push)", s, k)
		}
	}
	return o, destSet, tarSet, nil
}

// resolveDest applies each type's dest rules to a file-or-dir output.
func resolveDest(o Output, destSet, tarSet bool) (Output, error) {
	switch o.Type {
	case "local":
		if !destSet {
			return o, fmt.Errorf("--output %q: type=local needs dest=DIR (or dest=- for a tar on stdout)", o.Spec)
		}
		if o.ToStdout() {
			o.Type = "tar"
		}
	case "tar":
		if !destSet {
			o.Dest = "-"
		}
	case "oci":
		if !tarSet {
			// buildx writes a tar by default; hush keeps the contract
			// that dest=DIR is a layout dir, and writes a tar when dest ends in
			// .tar, is stdout, or is not given (stdout, as in buildx).
			o.Tar = !destSet || o.ToStdout() || strings.HasSuffix(o.Dest, ".tar")
		}
		if !o.Tar && (!destSet || o.ToStdout()) {
			return o, fmt.Errorf("--output %q: type=oci,tar=false writes a layout directory: it needs dest=DIR", o.Spec)
		}
		if !destSet {
			o.Dest = "-"
		}
	case "docker":
		if !destSet {
			return o, fmt.Errorf("--output %q: type=docker needs dest=FILE or dest=- (hush has no docker daemon to load into; without --output the image goes to hush's store)", o.Spec)
		}
	}
	return o, nil
}

// Check checks an output's destination on disk before the build
// starts: stdout must not be a terminal, dest must not be (or resolve to) /,
// a directory output must not be an existing file and a file output must not
// be an existing directory.
func (o Output) Check(stdout io.Writer) error {
	if o.Type == "image" {
		return nil
	}
	if o.ToStdout() {
		if isTerminal(stdout) {
			return fmt.Errorf("--output %q: refusing to write the %s archive to a terminal: redirect stdout (> FILE or | CMD) or give dest=FILE", o.Spec, o.Type)
		}
		return nil
	}
	if outfile.IsRoot(o.Dest) {
		return fmt.Errorf("--output %q: dest %s is the root directory: refusing to write there; want a directory or file of its own", o.Spec, o.Dest)
	}
	fi, err := os.Stat(o.Dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("--output %q: checking dest: %w", o.Spec, err)
	case o.writesDir() && !fi.IsDir():
		return fmt.Errorf("--output %q: dest %s exists and is not a directory (type=%s writes a directory)", o.Spec, o.Dest, o.Type)
	case !o.writesDir() && fi.IsDir():
		return fmt.Errorf("--output %q: dest %s is a directory (type=%s writes a file: name a file, or dest=- for stdout)", o.Spec, o.Dest, o.Type)
	}
	return nil
}

// isTerminal reports whether w is a terminal (buildx refuses to write an
// archive there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// SameAsStdout reports whether path names the file stdout writes to
// (/dev/stdout, /proc/self/fd/1, or the file stdout is redirected to).
func SameAsStdout(path string, stdout io.Writer) bool {
	f, ok := stdout.(*os.File)
	if !ok {
		return false
	}
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
