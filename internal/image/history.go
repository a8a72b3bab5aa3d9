package image

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// HistoryRow is one line of `hush history`, docker's history item.
type HistoryRow struct {
	// ID is docker's: the image ID on the newest row, "<missing>" on the others.
	ID         string
	Layer      string // the row's layer diff ID; "" for entries without a layer
	Created    time.Time
	CreatedBy  string
	Size       int64 // the layer's content size (LayerSizes); 0 for empty_layer entries
	Comment    string
	EmptyLayer bool
}

// History returns img's history newest first, like `docker history`. Each history entry
// that is not an empty_layer is matched to the next layer in order; layers without a
// history entry get a row with no CreatedBy. size gives a layer's size.
func History(img v1.Image, size func(v1.Layer) (int64, error)) ([]HistoryRow, error) {
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
		n, err := size(layers[next])
		if err != nil {
			return r, fmt.Errorf("reading history: sizing layer %d: %w", next, err)
		}
		r.Layer, r.Size = cfg.RootFS.DiffIDs[next].String(), n
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
		r, err := layerRow(HistoryRow{ID: "<missing>"})
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	if len(rows) > 0 {
		id, err := img.ConfigName()
		if err != nil {
			return nil, fmt.Errorf("reading history: %w", err)
		}
		rows[0].ID = id.String()
	}
	return rows, nil
}
