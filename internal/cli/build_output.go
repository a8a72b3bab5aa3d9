package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hush-build/hush/internal/build"
	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/snapshot"
)

// newBuilder opens the state dir root for one build whose scratch dir is tmp.
func newBuilder(root, tmp, runtime string) (*build.Builder, error) {
	if err := build.Sweep(root); err != nil {
		return nil, err
	}
	store, err := image.OpenStore(filepath.Join(root, "store"))
	if err != nil {
		return nil, err
	}
	snaps, err := snapshot.Open(filepath.Join(root, "snapshots"))
	if err != nil {
		return nil, err
	}
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
	return &build.Builder{Images: store, Resolver: &image.Resolver{Store: store}, Snapshots: snaps,
		Cache: c, Runtime: rt, TmpDir: tmp, RunDir: runDir,
		CacheMountDir: filepath.Join(root, "cachemounts"), Fingerprints: fp,
		Sums: build.LoadSumCache(filepath.Join(root, "contentsums.json"))}, nil
}

// publish sends the image to its output, or to the store under its tags.
func publish(ctx context.Context, store *image.Store, img v1.Image, outs []output, tags []string, disp *progress.Display, push func(context.Context, string) error) (v1.Hash, v1.Hash, error) {
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
	var names []string
	for _, t := range tags {
		n, _ := image.NormalizeName(t)
		names = append(names, n)
	}
	if out.Name != "" {
		for _, n := range strings.Split(out.Name, ",") {
			nn, err := image.NormalizeName(n)
			if err != nil {
				return id, digest, fmt.Errorf("--output name=%s: %w", n, err)
			}
			names = append(names, nn)
		}
	}
	var step *progress.Step
	switch out.Type {
	case "image":
		step = disp.Start("exporting to image store")
		_, err = store.Put(img, names...)
	case "oci":
		step = disp.Start("exporting to oci image format " + out.Dest)
		if out.Tar {
			err = image.WriteOCIArchive(img, out.Dest, names)
		} else {
			err = image.WriteOCILayout(img, out.Dest, names)
		}
	case "docker":
		step = disp.Start("exporting to docker image format " + out.Dest)
		err = image.WriteDockerArchive(img, out.Dest, names)
	case "local":
		step = disp.Start("exporting to client directory " + out.Dest)
		err = image.ExportRootfs(img, out.Dest)
	}
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

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp-hush"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
