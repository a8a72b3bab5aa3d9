package sink

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/image"
)

// export writes c to an image, oci or docker output: archives go to stdout for dest=-, to
// the docker engine for type=docker without dest, else to their file through outfile.Write
// (inside the image package).
func export(ctx context.Context, env Env, c *image.Composed, out Output, names []string) error {
	switch {
	case out.Type == "image":
		img, err := single(c, "the hush store")
		if err != nil {
			return err
		}
		_, err = env.Store.Put(img, storeNames(names, c, out.NameCanonical)...)
		return err
	case out.Type == "oci" && !out.Tar:
		return image.WriteOCILayout(c, out.Dest, names)
	case out.ToStdout() && out.Type == "oci":
		return image.StreamOCIArchive(env.Stdout, c, names)
	case out.Type == "oci":
		return image.WriteOCIArchive(c, out.Dest, names)
	}
	img, err := single(c, "a docker archive")
	if err != nil {
		return err
	}
	switch {
	case out.Load():
		return load(ctx, env, out, func(w io.Writer) error { return image.StreamDockerArchive(w, img, names) })
	case out.ToStdout():
		return image.StreamDockerArchive(env.Stdout, img, names)
	}
	return image.WriteDockerArchive(img, out.Dest, names)
}

// exportFiles writes the final filesystem (type=local, type=tar).
func exportFiles(a image.Artifact, out Output, stdout io.Writer) error {
	if len(a.Images) != 1 {
		return fmt.Errorf("--output %q: a multi-platform result is not supported here yet", out.Spec)
	}
	img := a.Images[0].Image
	var atts []image.Attestation
	for _, at := range a.Images[0].Attestations {
		if !at.InlineOnly {
			atts = append(atts, at)
		}
	}
	switch {
	case out.Type == "local":
		return image.ExportRootfs(img, out.Dest, atts...)
	case out.ToStdout():
		return image.StreamRootfsTar(stdout, img, atts...)
	}
	return image.WriteRootfsTar(img, out.Dest, atts...)
}

// single is c's one image, or an error naming where an index cannot go.
func single(c *image.Composed, where string) (v1.Image, error) {
	if c.Image == nil {
		return nil, fmt.Errorf("%s keeps single-platform images: write a multi-platform result with --push or --output type=oci", where)
	}
	return c.Image, nil
}

// storeNames are the names an image output gives the stored image: with name-canonical,
// each name's repository@digest too.
func storeNames(names []string, c *image.Composed, canonical bool) []string {
	if !canonical {
		return names
	}
	out := append([]string(nil), names...)
	for _, n := range names {
		repo, _ := splitRef(n)
		out = append(out, repo+"@"+c.Descriptor.Digest.String())
	}
	return out
}

// load streams a docker archive into the docker engine (--load).
func load(ctx context.Context, env Env, out Output, write func(io.Writer) error) error {
	if env.Load == nil {
		return fmt.Errorf("--output %q: loading into docker is not available here", out.Spec)
	}
	lines, err := env.Load(ctx, out.Context, write)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if env.Log != nil {
			env.Log(l)
		}
	}
	return nil
}
