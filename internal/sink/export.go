package sink

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

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

// exportFiles writes the final filesystem (type=local, type=tar): a multi-platform result
// one directory per platform (linux_arm64, …), or with platform-split=false all in one,
// its attestation files then named per platform (provenance.linux_arm64.json), as
// BuildKit's local exporter does.
func exportFiles(a image.Artifact, out Output, stdout io.Writer) error {
	var parts []image.RootfsPart
	split := a.Multi && (out.PlatformSplit == nil || *out.PlatformSplit)
	for _, pi := range a.Images {
		p := image.RootfsPart{Image: pi.Image}
		id := platformPath(pi.Platform)
		if split {
			p.Dir = id
		}
		for _, at := range pi.Attestations {
			if at.InlineOnly {
				continue
			}
			if a.Multi && !split {
				ext := path.Ext(at.Path)
				at.Path = strings.TrimSuffix(path.Base(at.Path), ext) + "." + id + ext
			}
			p.Attestations = append(p.Attestations, at)
		}
		parts = append(parts, p)
	}
	switch {
	case out.Type == "local":
		return exportDirs(parts, out.Dest)
	case out.ToStdout():
		return image.StreamRootfsTars(stdout, parts)
	}
	return image.WriteRootfsTars(out.Dest, parts)
}

// exportDirs writes each part into dest (or its directory in dest).
func exportDirs(parts []image.RootfsPart, dest string) error {
	for _, p := range parts {
		dir := dest
		if p.Dir != "" {
			if err := os.MkdirAll(dest, 0o755); err != nil {
				return fmt.Errorf("exporting rootfs: %w", err)
			}
			dir = filepath.Join(dest, p.Dir)
		}
		if err := image.ExportRootfs(p.Image, dir, p.Attestations...); err != nil {
			return err
		}
	}
	return nil
}

// platformPath is BuildKit's PlatformIDToPath: os_arch[_variant].
func platformPath(p v1.Platform) string {
	return strings.NewReplacer("/", "_", `\`, "_", ":", "_").Replace(image.FormatPlatform(p))
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
