package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hush-build/hush/internal/audit"
	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
)

// newBuilder opens the state dir root for one build whose scratch dir is tmp.
func newBuilder(root, tmp, runtime string) (*builder.Builder, error) {
	c, err := cache.Open(filepath.Join(root, "cache"))
	if err != nil {
		return nil, err
	}
	runDir := filepath.Join(root, "run")
	rt, err := executor.New(runtime, runDir)
	if err != nil {
		return nil, err
	}
	fp, err := secret.LoadFingerprintKey(filepath.Join(root, "keys", "fingerprint"))
	if err != nil {
		return nil, err
	}
	ledger, err := audit.OpenLedger(filepath.Join(root, "audited"))
	if err != nil {
		return nil, err
	}
	return builder.Open(root, builder.Builder{Cache: c, Runtime: rt, TmpDir: tmp, RunDir: runDir,
		CacheMountDir: filepath.Join(root, "cachemounts"), Fingerprints: fp, Audited: ledger,
		Sums: builder.LoadSumCache(filepath.Join(root, "contentsums.json"))})
}

// publish sends the image to its output (stdout for dest=-), or to the
// store under its tags.
func publish(ctx context.Context, store *image.Store, img v1.Image, outs []output, tags []string, disp *progress.Display, stdout io.Writer, push func(context.Context, string) error) (v1.Hash, v1.Hash, error) {
	id, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, v1.Hash{}, fmt.Errorf("computing image ID: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, v1.Hash{}, fmt.Errorf("computing image digest: %w", err)
	}
	out := output{Type: "image"}
	if len(outs) == 1 {
		out = outs[0]
	}
	names, err := outputNames(out, tags)
	if err != nil {
		return id, digest, err
	}
	step := disp.Start(exportLabel(out))
	err = export(store, img, out, names, stdout)
	step.Done(err)
	if err == nil && out.Push {
		for _, n := range names {
			step = disp.Start("pushing " + image.FamiliarName(n))
			err = push(ctx, n)
			step.Done(err)
			if err != nil {
				break
			}
		}
	}
	return id, digest, err
}

// outputNames are the image's names: the -t tags, then the output's name=.
func outputNames(out output, tags []string) ([]string, error) {
	var names []string
	for _, t := range tags {
		n, _ := image.NormalizeName(t)
		names = append(names, n)
	}
	if out.Name != "" {
		for _, n := range strings.Split(out.Name, ",") {
			nn, err := image.NormalizeName(n)
			if err != nil {
				return nil, fmt.Errorf("--output name=%s: %w", n, err)
			}
			names = append(names, nn)
		}
	}
	return names, nil
}

// exportLabel is the progress line of an output, BuildKit's wording.
func exportLabel(out output) string {
	dest := out.Dest
	if out.toStdout() {
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

// export writes img to out: archives go to stdout for dest=-, else to their
// file through outfile.Write (inside the image package).
func export(store *image.Store, img v1.Image, out output, names []string, stdout io.Writer) error {
	switch {
	case out.Type == "image":
		_, err := store.Put(img, names...)
		return err
	case out.Type == "local":
		return image.ExportRootfs(img, out.Dest)
	case out.Type == "oci" && !out.Tar:
		return image.WriteOCILayout(img, out.Dest, names)
	case out.toStdout() && out.Type == "oci":
		return image.StreamOCIArchive(stdout, img, names)
	case out.toStdout() && out.Type == "docker":
		return image.StreamDockerArchive(stdout, img, names)
	case out.toStdout():
		return image.StreamRootfsTar(stdout, img)
	case out.Type == "oci":
		return image.WriteOCIArchive(img, out.Dest, names)
	case out.Type == "docker":
		return image.WriteDockerArchive(img, out.Dest, names)
	}
	return image.WriteRootfsTar(img, out.Dest)
}
