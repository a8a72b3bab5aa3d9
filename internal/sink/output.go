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

	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/outfile"
)

// Output is one parsed --output value.
type Output struct {
	Spec string // the flag value, for errors
	Type string // oci, docker, local, tar, image
	Dest string // "-" is stdout; "" for type=docker is the docker engine (--load)
	Tar  bool   // oci: write a tar archive instead of a layout dir
	Name string
	Push bool
	// Registry says the output was type=registry (type=image with push=true).
	Registry bool
	// Image exporter options (BuildKit's): push-by-digest, name-canonical,
	// registry.insecure, store (false: push only, nothing in hush's store).
	PushByDigest, NameCanonical, Insecure bool
	Store                                 bool
	// Context is the docker context a type=docker output without dest loads into.
	Context string
	// PlatformSplit is a local or tar output's platform-split (nil: split a
	// multi-platform result into a directory per platform).
	PlatformSplit *bool
	// Image is how the image is written: compression, media types, annotations.
	Image image.ExportOptions
}

// Load reports a type=docker output that loads into the docker engine (--load).
func (o Output) Load() bool { return o.Type == "docker" && o.Dest == "" }

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
		return Output{Spec: s, Type: "tar", Dest: "-", Store: true}, nil
	case !strings.Contains(s, "="):
		return Output{Spec: s, Type: "local", Dest: s, Store: true}, nil
	}
	o, destSet, tarSet, err := parseOutputFields(s)
	if err != nil {
		return o, err
	}
	switch o.Type {
	case "image":
		return o, nil
	case "registry":
		o.Type, o.Push, o.Registry = "image", true, true
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
	o.Spec, o.Store = s, true
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return o, false, false, fmt.Errorf("--output %q: %w", s, err)
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return o, false, false, fmt.Errorf("--output %q: invalid value %q: want key=value", s, f)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		switch k {
		case "type":
			o.Type = v
		case "dest":
			o.Dest, destSet = v, true
		case "tar":
			tarSet = true
		}
		if err := o.setField(k, v); err != nil {
			return o, false, false, fmt.Errorf("--output %q: %w", s, err)
		}
	}
	return o, destSet, tarSet, nil
}

// setField sets one exporter attribute (BuildKit's image, oci, docker, local and tar
// exporter keys).
func (o *Output) setField(k, v string) error {
	flags := map[string]*bool{"push": &o.Push, "tar": &o.Tar, "push-by-digest": &o.PushByDigest,
		"name-canonical": &o.NameCanonical, "registry.insecure": &o.Insecure, "store": &o.Store,
		"force-compression": &o.Image.Compression.Force}
	if b, ok := flags[k]; ok {
		if k == "force-compression" && v == "" {
			v = "true"
		}
		var err error
		if *b, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%s=%s: want true or false", k, v)
		}
		return nil
	}
	switch k {
	case "type", "dest":
	case "name":
		o.Name = v
	case "context":
		o.Context = v
	case "compression":
		o.Image.Compression.Type = v
	case "compression-level":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("compression-level=%s: want an integer", v)
		}
		o.Image.Compression.Level = &n
	case "oci-mediatypes":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("oci-mediatypes=%s: want true or false", v)
		}
		o.Image.DockerTypes = !b
	case "unpack", "oci-artifact":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%s=%s: want true or false", k, v)
		}
	case "platform-split":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%s: want true or false", k, v)
		}
		o.PlatformSplit = &b
	default:
		if image.IsAnnotationAttr(k) {
			return o.Image.Annotations.AddAttr(k, v)
		}
		return fmt.Errorf("unsupported key %q (supported: type, dest, name, tar, push, push-by-digest, name-canonical, registry.insecure, store, unpack, compression, compression-level, force-compression, oci-mediatypes, oci-artifact, platform-split, context, annotation.*)", k)
	}
	return nil
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
	}
	return o, nil
}

// Check checks an output's destination on disk before the build
// starts: stdout must not be a terminal, dest must not be (or resolve to) /,
// a directory output must not be an existing file and a file output must not
// be an existing directory.
func (o Output) Check(stdout io.Writer) error {
	if err := o.Image.Check(); err != nil {
		return fmt.Errorf("--output %q: %w", o.Spec, err)
	}
	if o.Type == "image" || o.Load() {
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
