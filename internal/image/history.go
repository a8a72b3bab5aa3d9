package image

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
)

// HistoryRow is one line of `hush history`.
type HistoryRow struct {
	ID         string // layer diffID, or "<missing>" for entries without a layer
	Created    time.Time
	CreatedBy  string
	Size       int64 // uncompressed layer size; 0 for empty_layer entries
	Comment    string
	EmptyLayer bool
}

// History returns img's history newest first, like `docker history`. Each
// history entry that is not an empty_layer is matched to the next layer in
// order; layers without a history entry get a row with no CreatedBy.
func History(img v1.Image) ([]HistoryRow, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("reading history: %d layers but %d diff_ids", len(layers), len(cfg.RootFS.DiffIDs))
	}
	var rows []HistoryRow
	next := 0
	layerRow := func(r HistoryRow) (HistoryRow, error) {
		size, err := partial.UncompressedSize(layers[next])
		if err != nil {
			return r, fmt.Errorf("reading history: sizing layer %d: %w", next, err)
		}
		r.ID, r.Size = cfg.RootFS.DiffIDs[next].String(), size
		next++
		return r, nil
	}
	for _, h := range cfg.History {
		r := HistoryRow{Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer, ID: "<missing>"}
		if !h.EmptyLayer {
			if next >= len(layers) {
				return nil, fmt.Errorf("reading history: more non-empty history entries than %d layers", len(layers))
			}
			if r, err = layerRow(r); err != nil {
				return nil, err
			}
		}
		rows = append(rows, r)
	}
	for next < len(layers) {
		r, err := layerRow(HistoryRow{})
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, nil
}
