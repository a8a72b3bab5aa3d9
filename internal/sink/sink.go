// Package sink owns where a finished, audited image goes: buildx's --output grammar
// (Parse, with the destination checks made before a build starts) and the sinks it names —
// hush's store under the image's names, an OCI layout or archive, a docker archive or the
// docker engine (--load), a rootfs directory or tar, stdout, and pushes to registries —
// each written as BuildKit's exporters write it (image.Compose).
//
// It must never be handed an image that was not audited (the builder publishes only after
// its self-audit), and never write an archive to a terminal or over the root directory.
package sink

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/image"
)

// Sink is one place an image goes.
type Sink struct {
	label   string
	publish func(ctx context.Context, a image.Artifact, status func(string)) error
}

// Label is the progress line of the sink, BuildKit's wording.
func (s Sink) Label() string { return s.label }

// Publish writes the build's result to the sink.
func (s Sink) Publish(ctx context.Context, a image.Artifact) error {
	return s.publish(ctx, a, func(string) {})
}

// PublishStatus is Publish reporting each finished sub-task ("naming to NAME", BuildKit's
// statuses) to status.
func (s Sink) PublishStatus(ctx context.Context, a image.Artifact, status func(string)) error {
	return s.publish(ctx, a, status)
}

// Pusher pushes c to the registry reference ref; insecure allows plain HTTP.
type Pusher func(ctx context.Context, c *image.Composed, ref string, insecure bool) error

// Loader streams a docker archive into the docker engine of the docker context name ("":
// the current one) and returns the engine's "Loaded image" lines.
type Loader func(ctx context.Context, name string, write func(io.Writer) error) ([]string, error)

// Env is what sinks write to.
type Env struct {
	Store  *image.Store
	Stdout io.Writer // dest=- archives
	Push   Pusher    // nil: pushing is not available
	Load   Loader    // nil: loading into docker is not available
	// Annotations are --annotation's, added to every image output's own.
	Annotations image.Annotations
	// Log receives what a docker engine says it loaded; Warn what an output leaves out.
	Log, Warn func(string)
	// Platforms is how many platforms the build makes (several: an index, which the hush
	// store and docker outputs cannot keep).
	Platforms int
}

// Report is what the image outputs produced, filled as they publish: buildx's metadata
// (containerimage.digest, containerimage.descriptor, containerimage.config.digest,
// image.name) comes from the first one.
type Report struct {
	mu         sync.Mutex
	Descriptor *v1.Descriptor
	ConfigID   v1.Hash // the image's config digest; zero for an index
	Names      []string
}

func (r *Report) record(c *image.Composed, names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Descriptor != nil {
		return
	}
	d := c.Descriptor
	r.Descriptor, r.Names = &d, names
	if c.Image != nil {
		r.ConfigID, _ = c.Image.ConfigName()
	}
}

// Plan turns a build's --output values and -t tags into its sinks, in order: each output
// (hush's store when there is none), then its pushes. The report fills in as they publish.
func Plan(outs []Output, tags []string, env Env) ([]Sink, *Report, error) {
	if len(outs) == 0 {
		outs = []Output{{Type: "image", Store: true}}
	}
	rep := &Report{}
	var sinks []Sink
	stdout := 0
	for _, out := range outs {
		if out.ToStdout() {
			if stdout++; stdout > 1 {
				return nil, nil, fmt.Errorf("--output: multiple outputs configured to write to stdout")
			}
		}
		ss, err := planOutput(out, tags, env, rep)
		if err != nil {
			return nil, nil, err
		}
		sinks = append(sinks, ss...)
	}
	return sinks, rep, nil
}

// planOutput is the sinks of one output.
func planOutput(out Output, tags []string, env Env, rep *Report) ([]Sink, error) {
	names, err := names(out, tags)
	if err != nil {
		return nil, err
	}
	out.Image.Annotations.Merge(env.Annotations)
	out.Image.Names = names
	comp := &composer{opts: out.Image}
	if out.Type == "local" || out.Type == "tar" {
		return []Sink{{label: label(out), publish: func(_ context.Context, a image.Artifact, _ func(string)) error {
			return exportFiles(a, out, env.Stdout)
		}}}, nil
	}
	if out.Push && len(names) == 0 {
		return nil, fmt.Errorf("--push: name the image with -t NAME (or --output type=registry,name=NAME)")
	}
	var sinks []Sink
	keeps, err := keepsHere(out, env)
	if err != nil {
		return nil, err
	}
	if keeps {
		keep := comp
		if where := keepsBare(out); where != "" {
			keep = &composer{opts: out.Image, bare: where, warn: env.Warn}
		}
		sinks = append(sinks, keepSink(out, names, env, rep, keep))
	}
	if !out.Push {
		return sinks, nil
	}
	if env.Push == nil {
		return nil, fmt.Errorf("--output %q: pushing is not available here", out.Spec)
	}
	for _, n := range names {
		ps, err := pushSink(out, n, names, env, rep, comp)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, ps)
	}
	return sinks, nil
}

// keepSink writes the output's image (the store, an OCI or docker archive, the engine),
// reporting BuildKit's sub-tasks as it does.
func keepSink(out Output, names []string, env Env, rep *Report, comp *composer) Sink {
	return Sink{label: label(out), publish: func(ctx context.Context, a image.Artifact, status func(string)) error {
		c, err := comp.compose(a)
		if err != nil {
			return err
		}
		status("exporting layers")
		if err := export(ctx, env, c, out, names); err != nil {
			return err
		}
		for _, st := range exportStatuses(out, c, names) {
			status(st)
		}
		rep.record(c, names)
		return nil
	}}
}

// exportStatuses are BuildKit's sub-tasks of an export once written: in the store
// "writing image ID" and "naming to NAME"; in an archive its manifest (or manifest list)
// and config, then "sending tarball".
func exportStatuses(out Output, c *image.Composed, names []string) []string {
	var sts []string
	if c.Image != nil {
		id, err := c.Image.ConfigName()
		if err != nil {
			return nil
		}
		if out.Type == "image" {
			sts = append(sts, "writing image "+id.String())
			for _, n := range names {
				sts = append(sts, "naming to "+n)
			}
			return sts
		}
		sts = append(sts, "exporting manifest "+c.Descriptor.Digest.String(), "exporting config "+id.String())
	} else {
		sts = append(sts, "exporting manifest list "+c.Descriptor.Digest.String())
	}
	if out.Tar || out.Type == "docker" {
		sts = append(sts, "sending tarball")
	}
	return sts
}

// pushSink pushes the output's image to the name n (or its repository by digest).
func pushSink(out Output, n string, names []string, env Env, rep *Report, comp *composer) (Sink, error) {
	ref, err := pushRef(n, out.PushByDigest)
	if err != nil {
		return Sink{}, err
	}
	return Sink{label: "pushing " + image.FamiliarName(n), publish: func(ctx context.Context, a image.Artifact, status func(string)) error {
		c, err := comp.compose(a)
		if err != nil {
			return err
		}
		to := ref
		if out.PushByDigest {
			to += "@" + c.Descriptor.Digest.String()
		}
		status("pushing layers")
		if err := env.Push(ctx, c, to, out.Insecure); err != nil {
			return err
		}
		status("pushing manifest for " + n + "@" + c.Descriptor.Digest.String())
		rep.record(c, names)
		return nil
	}}, nil
}

// composer composes an output's image once for all its sinks. A bare composer leaves
// the attestations out, for a place that keeps images without them (named by bare), and
// warns about it.
type composer struct {
	opts image.ExportOptions
	bare string
	warn func(string)
	once sync.Once
	c    *image.Composed
	err  error
}

func (c *composer) compose(a image.Artifact) (*image.Composed, error) {
	c.once.Do(func() {
		if c.bare != "" && a.Attested() {
			a = a.WithoutAttestations()
			if c.warn != nil {
				c.warn(c.bare + " keeps the image without its attestations (they go with --push and --output type=oci)")
			}
		}
		c.c, c.err = image.Compose(a, c.opts)
	})
	return c.c, c.err
}

// keepsHere reports whether the output keeps the image itself (not only pushes it). A
// multi-platform build refuses the hush store and docker outputs before it starts, but
// for an output that also pushes, which then only pushes (saying so, unless it was
// type=registry).
func keepsHere(out Output, env Env) (bool, error) {
	if out.Type == "image" && !out.Store {
		return false, nil
	}
	where := keepsBare(out)
	if env.Platforms < 2 || where == "" {
		return true, nil
	}
	if out.Type == "image" && out.Push {
		if env.Warn != nil && !out.Registry {
			env.Warn(where + " keeps single-platform images: the multi-platform image is only pushed")
		}
		return false, nil
	}
	return false, fmt.Errorf("--output %q: %s keeps single-platform images: write a multi-platform image with --push or --output type=oci", outSpec(out), where)
}

// outSpec is how an error names an output (the default one has no spec).
func outSpec(out Output) string {
	if out.Spec == "" {
		return "type=" + out.Type
	}
	return out.Spec
}

// keepsBare names where an output keeps images without attestations (the hush store, a
// docker archive or engine), or is "" for one that keeps them.
func keepsBare(out Output) string {
	switch {
	case out.Type == "image":
		return "the hush store"
	case out.Type == "docker" && out.Load():
		return "the docker engine"
	case out.Type == "docker":
		return "a docker archive"
	}
	return ""
}

// pushRef is where a name is pushed: the name itself, or with push-by-digest its
// repository alone (the digest is added once known).
func pushRef(n string, byDigest bool) (string, error) {
	if !byDigest {
		return n, nil
	}
	repo, _ := splitRef(n)
	return repo, nil
}

// splitRef splits a normalized name into repository and tag or digest.
func splitRef(n string) (repo, obj string) {
	if i := strings.LastIndex(n, "@"); i >= 0 {
		return n[:i], n[i+1:]
	}
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		return n[:i], n[i+1:]
	}
	return n, ""
}

// PushNames are the references a build's outputs push the image to (none unless the
// output pushes): where a registry cache export may mount the image's layers from.
func PushNames(outs []Output, tags []string) []string {
	if len(outs) != 1 || !outs[0].Push {
		return nil
	}
	ns, err := names(outs[0], tags)
	if err != nil {
		return nil
	}
	return ns
}

// names are the image's names as buildx gives them to an image, oci or docker output: the
// -t tags, or the output's own name= when there are none.
func names(out Output, tags []string) ([]string, error) {
	var ns []string
	if len(tags) > 0 {
		for _, t := range tags {
			n, err := image.NormalizeName(t)
			if err != nil {
				return nil, fmt.Errorf("--tag %q: %w", t, err)
			}
			ns = append(ns, n)
		}
		return ns, nil
	}
	if out.Name == "" {
		return nil, nil
	}
	for _, n := range strings.Split(out.Name, ",") {
		nn, err := image.NormalizeName(n)
		if err != nil {
			return nil, fmt.Errorf("--output name=%s: %w", n, err)
		}
		ns = append(ns, nn)
	}
	return ns, nil
}

// label is the progress line of an output, BuildKit's wording.
func label(out Output) string {
	dest := out.Dest
	if out.ToStdout() {
		dest = "stdout"
	}
	switch {
	case out.Type == "oci":
		return "exporting to oci image format " + dest
	case out.Load():
		return "exporting to docker image format (loading into docker)"
	case out.Type == "docker":
		return "exporting to docker image format " + dest
	case out.Type == "local":
		return "exporting to client directory " + dest
	case out.Type == "tar":
		return "exporting to client tarball " + dest
	}
	return "exporting to image"
}
