package image

import (
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
				{ID: "<missing>", Created: at(4).Time, CreatedBy: "CMD sh", EmptyLayer: true},
				{ID: diffs[1].String(), Created: at(3).Time, CreatedBy: "RUN b", Comment: "hush", Size: -1},
				{ID: "<missing>", Created: at(2).Time, CreatedBy: "ENV X=1", EmptyLayer: true},
				{ID: diffs[0].String(), Created: at(1).Time, CreatedBy: "ADD a", Size: -1},
			},
		},
		{
			name: "no history",
			cfg:  withHistory(),
			want: []HistoryRow{{ID: diffs[1].String(), Size: -1}, {ID: diffs[0].String(), Size: -1}},
		},
		{
			name:    "more history than layers",
			cfg:     withHistory(v1.History{CreatedBy: "1"}, v1.History{CreatedBy: "2"}, v1.History{CreatedBy: "3"}),
			wantErr: true,
		},
	}
	sizes := map[string]int64{}
	for i, l := range []v1.Layer{l1, l2} {
		rc, _ := l.Uncompressed()
		_, n, _ := v1.SHA256(rc)
		rc.Close()
		sizes[diffs[i].String()] = n
	}
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
			rows, err := History(stored)
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
			for i, w := range tt.want {
				if w.Size == -1 {
					w.Size = sizes[w.ID]
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
