package image

import (
	"errors"
	"io"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestHistory(t *testing.T) {
	l1 := layerOf(t, types.OCILayer, entry{name: "a", body: "aaaa"})
	l2 := layerOf(t, types.OCILayer, entry{name: "b", body: "bb"})
	base := testImage(t, "hist", l1, l2)
	cfg, _ := base.ConfigFile()
	diffs := cfg.RootFS.DiffIDs
	at := func(s int64) v1.Time { return v1.Time{Time: time.Unix(1700000000+s, 0).UTC()} }
	withHistory := func(h ...v1.History) *v1.ConfigFile {
		c := cfg.DeepCopy()
		c.History = h
		return c
	}
	tests := []struct {
		name    string
		cfg     *v1.ConfigFile
		want    []HistoryRow // Size -1: the layer's uncompressed size
		wantErr bool
	}{
		{
			name: "empty layers interleaved",
			cfg: withHistory(
				v1.History{Created: at(1), CreatedBy: "ADD a"},
				v1.History{Created: at(2), CreatedBy: "ENV X=1", EmptyLayer: true},
				v1.History{Created: at(3), CreatedBy: "RUN b", Comment: "hush"},
				v1.History{Created: at(4), CreatedBy: "CMD sh", EmptyLayer: true},
			),
			want: []HistoryRow{
				{ID: "IMAGE", Created: at(4).Time, CreatedBy: "CMD sh", EmptyLayer: true},
				{ID: "<missing>", Layer: diffs[1].String(), Created: at(3).Time, CreatedBy: "RUN b", Comment: "hush", Size: -1},
				{ID: "<missing>", Created: at(2).Time, CreatedBy: "ENV X=1", EmptyLayer: true},
				{ID: "<missing>", Layer: diffs[0].String(), Created: at(1).Time, CreatedBy: "ADD a", Size: -1},
			},
		},
		{
			name: "no history",
			cfg:  withHistory(),
			want: []HistoryRow{{ID: "IMAGE", Layer: diffs[1].String(), Size: -1}, {ID: "<missing>", Layer: diffs[0].String(), Size: -1}},
		},
		{
			name:    "more history than layers",
			cfg:     withHistory(v1.History{CreatedBy: "1"}, v1.History{CreatedBy: "2"}, v1.History{CreatedBy: "3"}),
			wantErr: true,
		},
	}
	// docker's layer size: the files' bytes, "aaaa" and "bb".
	sizes := map[string]int64{diffs[0].String(): 4, diffs[1].String(): 2}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := mutate.ConfigFile(base, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Read through the store so layers are blob-backed.
			s := newStore(t)
			if _, err := s.Put(img, "hist"); err != nil {
				t.Fatal(err)
			}
			stored, _, err := s.Image("hist")
			if err != nil {
				t.Fatal(err)
			}
			rows, err := History(stored, s.LayerSizes().Of)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("History = %+v, want error", rows)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tt.want) {
				t.Fatalf("rows %+v, want %+v", rows, tt.want)
			}
			id, _ := stored.ConfigName()
			for i, w := range tt.want {
				if w.Size == -1 {
					w.Size = sizes[w.Layer]
				}
				if w.ID == "IMAGE" {
					w.ID = id.String()
				}
				if !rows[i].Created.Equal(w.Created) {
					t.Fatalf("row %d created %v, want %v", i, rows[i].Created, w.Created)
				}
				rows[i].Created, w.Created = time.Time{}, time.Time{}
				if rows[i] != w {
					t.Fatalf("row %d = %+v, want %+v", i, rows[i], w)
				}
			}
		})
	}
}

// TestLayerSizesRemembered: a layer's content size is read once and remembered in the
// store: a later listing does not read the layer again.
func TestLayerSizesRemembered(t *testing.T) {
	l := layerOf(t, types.OCILayer, entry{name: "a", body: "12345"})
	s := newStore(t)
	ls := s.LayerSizes()
	if n, err := ls.Of(l); err != nil || n != 5 {
		t.Fatalf("Of = %d, %v; want 5", n, err)
	}
	ls.Save()
	d, _ := l.DiffID()
	if n, err := s.LayerSizes().Of(unreadable{d}); err != nil || n != 5 {
		t.Fatalf("remembered size = %d, %v; want 5 without reading the layer", n, err)
	}
}

// unreadable is a layer with a diff ID whose content cannot be read.
type unreadable struct{ diff v1.Hash }

func (u unreadable) DiffID() (v1.Hash, error) { return u.diff, nil }
func (u unreadable) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("read the layer")
}
func (u unreadable) Digest() (v1.Hash, error)            { return u.diff, nil }
func (u unreadable) Compressed() (io.ReadCloser, error)  { return u.Uncompressed() }
func (u unreadable) Size() (int64, error)                { return 0, nil }
func (u unreadable) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
