package builder

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hush-build/hush/internal/dockerfile"
)

// OptionalSecrets reads the Dockerfile of a request with a local context (or an inline
// one) as Run reads it, and lists the secret ids it mounts only with an explicit
// required=false (dockerfile.File.OptionalSecrets). known is false for a Git or stdin
// context, whose Dockerfile only the build itself fetches.
func OptionalSecrets(req Request) (ids map[string]bool, known bool, err error) {
	name := "Dockerfile"
	data := req.DockerfileInline
	if data == nil {
		if req.Context == "-" || req.Dockerfile == "-" {
			return nil, false, nil
		}
		if fi, err := os.Stat(req.Context); err != nil || !fi.IsDir() {
			return nil, false, nil
		}
		path := req.Dockerfile
		if path == "" {
			path = filepath.Join(req.Context, "Dockerfile")
		}
		name = filepath.Base(path)
		if data, err = readDockerfile(req.Context, path, nil); err != nil {
			return nil, false, err
		}
	}
	df, err := dockerfile.Parse(name, bytes.NewReader(data))
	if err != nil {
		return nil, false, fmt.Errorf("reading which secrets the Dockerfile marks optional: %w", err)
	}
	return df.OptionalSecrets(), true, nil
}
