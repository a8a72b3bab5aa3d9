package image

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/scratch"
)

// Load reads a docker archive (`docker save`, tarball.Write) or an OCI
// archive (a tar of an OCI layout) from path, optionally gzip/zstd/bzip2
// compressed, and stores every image in it, all or nothing:
//
//  1. The whole archive is read and every image's blobs are written into the
//     store, each checked against its digest and size; every config must
//     parse and every layer's uncompressed content must match its diff_id.
//  2. prepare (when not nil) runs on each stored image, in archive order;
//     the CLI unpacks the layers here, so an image that cannot be unpacked
//     is never tagged.
//  3. Only then are all names written, in one update of index.json.
//
// When any step fails no name is written, and the blobs this Load added that
// no stored image uses are removed again. It returns the normalized names
// loaded; an image without a name is reported by its ID.
func (s *Store) Load(archive string, prepare func(v1.Image) error) ([]string, error) {
	sd, err := scratch.New(s.tmpDir())
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", archive, err)
	}
	defer sd.Remove()
	tmp := sd.Path()
	imgs, err := s.readArchive(archive, tmp)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", archive, err)
	}
	// The load holds every blob it writes until its names are written: a prune meanwhile
	// cannot take a blob no image names yet.
	hold, err := s.acquire()
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", archive, err)
	}
	defer hold.Release()
	tx := &loadTx{s: s, hold: hold}
	loaded, err := tx.run(imgs, prepare)
	if err != nil {
		hold.Release() // what it added and no image uses goes now, not when a lease ends
		if rerr := s.removeBlobsIfUnused(tx.added); rerr != nil {
			err = fmt.Errorf("%w (and removing its blobs: %v)", err, rerr)
		}
		return nil, fmt.Errorf("loading %s: %w", archive, err)
	}
	return loaded, nil
}

// readArchive lists the images of a (possibly compressed) archive, using
// tmp for the decompressed tar and an extracted OCI layout.
func (s *Store) readArchive(archive, tmp string) ([]archiveImage, error) {
	plain, err := s.plainArchive(archive, tmp)
	if err != nil {
		return nil, err
	}
	kind, members, err := archiveMembers(plain)
	if err != nil {
		return nil, err
	}
	if kind == "oci" {
		return readOCI(plain, filepath.Join(tmp, "layout"))
	}
	return readDocker(plain, members)
}

// loadTx is one Load: the images it stored and the blobs it added.
type loadTx struct {
	s     *Store
	hold  *lease.Lease // the load's own, on every blob it writes
	added []v1.Hash
	descs []v1.Descriptor
	mans  []*v1.Manifest
}

// run stores and verifies every image, prepares each, then tags them all.
func (tx *loadTx) run(imgs []archiveImage, prepare func(v1.Image) error) ([]string, error) {
	for _, ai := range imgs {
		if err := tx.store(ai); err != nil {
			return nil, fmt.Errorf("%s: %w", ai.label, err)
		}
	}
	if prepare != nil {
		for i, ai := range imgs {
			img, err := tx.s.image(tx.descs[i].Digest)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ai.label, err)
			}
			if err := prepare(img); err != nil {
				return nil, fmt.Errorf("%s: %w", ai.label, err)
			}
		}
	}
	return tx.tag(imgs)
}

// store writes one image's blobs and verifies them.
func (tx *loadTx) store(ai archiveImage) error {
	if ai.manifest != (v1.Hash{}) {
		if err := checkDigest(ai.img.RawManifest, ai.manifest, "manifest"); err != nil {
			return err
		}
	}
	rawCfg, err := ai.img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return fmt.Errorf("config is not a valid image config: %w", err)
	}
	desc, m, added, err := tx.s.writeImageBlobs(ai.img, tx.hold)
	tx.added = append(tx.added, added...)
	if err != nil {
		return err
	}
	if err := checkDigestNames(ai.names, desc.Digest); err != nil {
		return err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("config lists %d diff_ids for %d layers", len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	for n, l := range m.Layers {
		if err := tx.s.checkDiffID(l.Digest, cfg.RootFS.DiffIDs[n]); err != nil {
			return fmt.Errorf("layer %d (%s): %w", n+1, layerLabel(ai, n), err)
		}
	}
	tx.descs = append(tx.descs, desc)
	tx.mans = append(tx.mans, m)
	return nil
}

func layerLabel(ai archiveImage, n int) string {
	if n < len(ai.layers) {
		return ai.layers[n]
	}
	return fmt.Sprint("#", n+1)
}

// checkDiffID decompresses stored layer blob d and checks its digest is diffID.
func (s *Store) checkDiffID(d, diffID v1.Hash) error {
	f, err := os.Open(s.blobPath(d))
	if err != nil {
		return fmt.Errorf("opening layer blob %s: %w", d, err)
	}
	defer f.Close()
	r, done, err := decompress(f)
	if err != nil {
		return err
	}
	defer done()
	got, _, err := v1.SHA256(r)
	if err != nil {
		return fmt.Errorf("decompressing: %w", truncated(err))
	}
	if got != diffID {
		return fmt.Errorf("content has diff_id %s, the config says %s", got, diffID)
	}
	return nil
}

// tag points every image's names at it in one locked update of index.json.
func (tx *loadTx) tag(imgs []archiveImage) ([]string, error) {
	unlock, err := tx.s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := tx.s.readIndex()
	if err != nil {
		return nil, err
	}
	var loaded []string
	for i, ai := range imgs {
		// A concurrent Remove may have dropped shared blobs since we wrote them.
		if err := tx.s.ensureBlobs(ai.img, tx.descs[i], tx.mans[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", ai.label, err)
		}
		idx.Manifests = retag(idx.Manifests, tx.descs[i], ai.names)
		loaded = append(loaded, ai.names...)
		if len(ai.names) == 0 {
			loaded = append(loaded, tx.mans[i].Config.Digest.String())
		}
	}
	if err := tx.s.writeIndex(idx); err != nil {
		return nil, err
	}
	return loaded, nil
}
