package buildflags

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/provenance"
)

func TestParseProvenance(t *testing.T) {
	max := &provenance.Options{Mode: "max", Version: "v1", Filename: "provenance.json"}
	tests := []struct {
		name    string
		attests []string
		short   string
		want    *provenance.Options
		sbom    bool
		err     string
	}{
		{name: "none"},
		{name: "--provenance=true is BuildKit's default mode max", short: "true", want: max},
		{name: "--provenance=1", short: "1", want: max},
		{name: "--provenance=false", short: "false"},
		{name: "--provenance attributes", short: "mode=min,version=v0.2,builder-id=https://ci/run/1",
			want: &provenance.Options{Mode: "min", Version: "v0.2", Filename: "provenance.json", BuilderID: "https://ci/run/1"}},
		{name: "mode=full is max", attests: []string{"type=provenance,mode=full"}, want: max},
		{name: "filename, inline-only, reproducible", attests: []string{"type=provenance,filename=p.json,inline-only=true,reproducible=true"},
			want: &provenance.Options{Mode: "max", Version: "v1", Filename: "p.json", InlineOnly: true, Reproducible: true}},
		{name: "the first of a type wins (buildx's ToMap)", attests: []string{"type=provenance,mode=max"}, short: "false", want: max},
		{name: "disabled first wins", attests: []string{"type=provenance,disabled=true"}, short: "mode=min"},
		{name: "sbom", attests: []string{"type=sbom"}, sbom: true},
		{name: "sbom disabled", attests: []string{"type=sbom,disabled=true"}},
		{name: "no type", attests: []string{"mode=max"}, err: "attestation type not specified"},
		{name: "unknown type", attests: []string{"type=spdx"}, err: `unknown attestation type "spdx"`},
		{name: "bad mode", short: "mode=fast", err: `invalid mode "fast"`},
		{name: "bad version", short: "version=v2", err: `invalid provenance version "v2"`},
		{name: "bad disabled", attests: []string{"type=provenance,disabled=maybe"}, err: "invalid value disabled=maybe"},
		{name: "not key=value", attests: []string{"type=provenance,max"}, err: "invalid value max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, sbom, err := ParseProvenance(tt.attests, tt.short)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || sbom != tt.sbom || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v sbom=%v err=%v, want %+v sbom=%v", got, sbom, err, tt.want, tt.sbom)
			}
		})
	}
}
