package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --iidfile and --metadata-file cannot be stdout when the output streams
// there, and cannot be a directory.
func TestParseOutputsIDFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	self := fmt.Sprintf("/proc/self/fd/%d", w.Fd())
	dir := t.TempDir()
	tests := []struct {
		name    string
		opts    buildOptions
		wantErr string
	}{
		{name: "iidfile stdout without a stream", opts: buildOptions{iidfile: self}},
		{name: "iidfile stdout with -o -", opts: buildOptions{outputs: []string{"-"}, iidfile: self}, wantErr: "--iidfile " + self + ": stdout already carries"},
		{name: "metadata stdout with oci dest=-", opts: buildOptions{outputs: []string{"type=oci,dest=-"}, metadataFile: self}, wantErr: "--metadata-file"},
		{name: "iidfile a file with -o -", opts: buildOptions{outputs: []string{"-"}, iidfile: filepath.Join(dir, "iid")}},
		{name: "iidfile a directory", opts: buildOptions{iidfile: dir}, wantErr: "--iidfile " + dir + ": is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.opts.parseOutputs(w)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
