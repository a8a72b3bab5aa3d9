// Package sink owns where a finished, audited image goes: buildx's --output grammar
// (Parse, with the destination checks made before a build starts) and the sinks it names —
// hush's store under the image's names, an OCI layout or archive, a docker archive, a
// rootfs directory or tar, stdout, and pushes to registries.
//
// It must never be handed an image that was not audited (the builder publishes only after
// its self-audit), and never write an archive to a terminal or over the root directory.
package sink

import (
	"context"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/image"
)

// Sink is one place an image goes.
type Sink struct {
	label   string
	publish func(ctx context.Context, img v1.Image) error
}

// Label is the progress line of the sink, BuildKit's wording.
func (s Sink) Label() string { return s.label }

// Publish writes img to the sink.
func (s Sink) Publish(ctx context.Context, img v1.Image) error { return s.publish(ctx, img) }

// Pusher pushes img to the registry reference ref.
type Pusher func(ctx context.Context, img v1.Image, ref string) error

// Plan turns a build's --output (at most one) and -t tags into its sinks, in order: the
// output (hush's store under the names when there is none), then a push of every name when
// the output asks for one. stdout carries dest=- archives.
func Plan(outs []Output, tags []string, store *image.Store, stdout io.Writer, push Pusher) ([]Sink, error) {
	if len(outs) > 1 {
		return nil, fmt.Errorf("--output: only one output is supported, got %d", len(outs))
	}
	out := Output{Type: "image"}
	if len(outs) == 1 {
		out = outs[0]
	}
	names, err := names(out, tags)
	if err != nil {
		return nil, err
	}
	sinks := []Sink{{label: label(out), publish: func(_ context.Context, img v1.Image) error {
		return export(store, img, out, names, stdout)
	}}}
	if out.Push {
		if push == nil {
			return nil, fmt.Errorf("--output %q: pushing is not available here", out.Spec)
		}
		for _, n := range names {
			sinks = append(sinks, Sink{label: "pushing " + image.FamiliarName(n), publish: func(ctx context.Context, img v1.Image) error {
				return push(ctx, img, n)
			}})
		}
	}
	return sinks, nil
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

// names are the image's names: the -t tags, then the output's name=.
func names(out Output, tags []string) ([]string, error) {
	var ns []string
	for _, t := range tags {
		n, err := image.NormalizeName(t)
		if err != nil {
			return nil, fmt.Errorf("--tag %q: %w", t, err)
		}
		ns = append(ns, n)
	}
	if out.Name != "" {
		for _, n := range strings.Split(out.Name, ",") {
			nn, err := image.NormalizeName(n)
			if err != nil {
				return nil, fmt.Errorf("--output name=%s: %w", n, err)
			}
			ns = append(ns, nn)
		}
	}
	return ns, nil
}

// label is the progress line of an output, BuildKit's wording.
func label(out Output) string {
	dest := out.Dest
	if out.ToStdout() {
		dest = "stdout"
	}
	switch out.Type {
	case "oci":
		return "exporting to oci image format " + dest
	case "docker":
		return "exporting to docker image format " + dest
	case "local":
		return "exporting to client directory " + dest
	case "tar":
		return "exporting to client tarball " + dest
	}
	return "exporting to image store"
}

// export writes img to out: archives go to stdout for dest=-, else to their file through
// outfile.Write (inside the image package).
func export(store *image.Store, img v1.Image, out Output, names []string, stdout io.Writer) error {
	switch {
	case out.Type == "image":
		_, err := store.Put(img, names...)
		return err
	case out.Type == "local":
		return image.ExportRootfs(img, out.Dest)
	case out.Type == "oci" && !out.Tar:
		return image.WriteOCILayout(img, out.Dest, names)
	case out.ToStdout() && out.Type == "oci":
		return image.StreamOCIArchive(stdout, img, names)
	case out.ToStdout() && out.Type == "docker":
		return image.StreamDockerArchive(stdout, img, names)
	case out.ToStdout():
		return image.StreamRootfsTar(stdout, img)
	case out.Type == "oci":
		return image.WriteOCIArchive(img, out.Dest, names)
	case out.Type == "docker":
		return image.WriteDockerArchive(img, out.Dest, names)
	}
	return image.WriteRootfsTar(img, out.Dest)
}
