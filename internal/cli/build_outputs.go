package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/dockerengine"
	"github.com/hush-build/hush/internal/outfile"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/sink"
)

// parseOutputs parses --output and checks the destinations of --output, --iidfile and
// --metadata-file on disk. When an output streams to stdout, neither file may be stdout too.
func (o *buildOptions) parseOutputs(stdout io.Writer) ([]sink.Output, error) {
	var outs []sink.Output
	for _, s := range o.outputs {
		out, err := sink.Parse(s)
		if err != nil {
			return nil, err
		}
		if err := out.Check(stdout); err != nil {
			return nil, err
		}
		outs = append(outs, out)
	}
	for _, f := range []struct{ flag, path string }{{"--iidfile", o.iidfile}, {"--metadata-file", o.metadataFile}} {
		if f.path == "" {
			continue
		}
		if fi, err := os.Stat(f.path); err == nil && fi.IsDir() {
			return nil, fmt.Errorf("%s %s: is a directory, want a file", f.flag, f.path)
		}
		for _, out := range outs {
			if out.ToStdout() && sink.SameAsStdout(f.path, stdout) {
				return nil, fmt.Errorf("%s %s: stdout already carries the --output %q archive; write it to a file", f.flag, f.path, out.Spec)
			}
		}
	}
	return outs, nil
}

// shorthandOutputs applies --push and --load as buildx does: --push pushes every image
// output, or adds one; --load adds a docker output without dest unless there is one.
func (o *buildOptions) shorthandOutputs(outs []sink.Output) ([]sink.Output, error) {
	if o.noCache && len(o.noCacheFilter) > 0 {
		return nil, fmt.Errorf("--no-cache and --no-cache-filter cannot currently be used together")
	}
	if o.push {
		pushed := false
		for i := range outs {
			if outs[i].Type == "image" {
				outs[i].Push, pushed = true, true
			}
		}
		if !pushed {
			outs = append(outs, sink.Output{Spec: "type=registry", Type: "image", Push: true, Registry: true, Store: true})
		}
	}
	if o.load && !slicesContainsFunc(outs, sink.Output.Load) {
		outs = append(outs, sink.Output{Spec: "type=docker", Type: "docker", Store: true})
	}
	for _, out := range outs {
		if out.Push && len(o.tags) == 0 && out.Name == "" {
			return nil, fmt.Errorf("--push: name the image with -t NAME (or --output type=registry,name=NAME)")
		}
	}
	return outs, nil
}

func slicesContainsFunc(outs []sink.Output, f func(sink.Output) bool) bool {
	for _, o := range outs {
		if f(o) {
			return true
		}
	}
	return false
}

// toStdout reports an output that streams to stdout.
func toStdout(outs []sink.Output) bool { return slicesContainsFunc(outs, sink.Output.ToStdout) }

// loadIntoDocker is --load: a docker archive into the docker engine.
func loadIntoDocker(ctx context.Context, name string, write func(io.Writer) error) ([]string, error) {
	e, err := dockerengine.Find(name)
	if err != nil {
		return nil, fmt.Errorf("--load: %w", err)
	}
	return e.Load(ctx, write)
}

// buildResult is what a build leaves for -q, --iidfile and --metadata-file.
type buildResult struct {
	pub *builder.Published
	rep *sink.Report
	ref string // buildx.build.ref
}

func newBuildResult(pub *builder.Published, rep *sink.Report) *buildResult {
	return &buildResult{pub: pub, rep: rep, ref: "hush/hush/" + builder.NewID()}
}

// imageID is buildx's: the config digest, or for an index its digest.
func (r *buildResult) imageID() v1.Hash {
	switch {
	case r.rep.Descriptor != nil && r.rep.ConfigID == (v1.Hash{}):
		return r.rep.Descriptor.Digest
	case r.rep.ConfigID != (v1.Hash{}):
		return r.rep.ConfigID
	}
	return r.pub.ID
}

// metadata is buildx's --metadata-file content.
func (r *buildResult) metadata() map[string]any {
	md := map[string]any{"buildx.build.ref": r.ref}
	if d := r.rep.Descriptor; d != nil {
		md["containerimage.digest"] = d.Digest.String()
		md["containerimage.descriptor"] = d
		if r.rep.ConfigID != (v1.Hash{}) {
			md["containerimage.config.digest"] = r.rep.ConfigID.String()
		}
		if len(r.rep.Names) > 0 {
			md["image.name"] = strings.Join(r.rep.Names, ",")
		}
	}
	if r.pub != nil {
		for k, v := range r.pub.MetadataProvenance {
			md[k] = json.RawMessage(v)
		}
	}
	return md
}

// writeIDFiles writes --iidfile and --metadata-file through outfile.Write: a FIFO, a
// device or /dev/stdout is written through, a regular file replaced atomically.
func (o *buildOptions) writeIDFiles(r *buildResult, secrets *secret.Set) error {
	if o.iidfile != "" {
		if err := outfile.Write(o.iidfile, 0o644, writeBytes([]byte(r.imageID().String()))); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if o.metadataFile != "" {
		data, err := json.MarshalIndent(r.metadata(), "", "  ")
		if err != nil {
			return fmt.Errorf("--metadata-file: %w", err)
		}
		if err := outfile.Write(o.metadataFile, 0o644, writeBytes(secrets.Redact(data))); err != nil {
			return fmt.Errorf("--metadata-file: %w", err)
		}
	}
	return nil
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}
