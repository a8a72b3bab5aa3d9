package main

import (
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hush-build/hush/internal/hushtest"
)

const exportersDockerfile = "FROM busybox\nRUN echo exported > /exported.txt\n"

// layoutManifest reads the single manifest an OCI layout's index.json names.
func layoutManifest(t *testing.T, dir string) (v1.Descriptor, *v1.Manifest) {
	t.Helper()
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil || len(im.Manifests) == 0 {
		t.Fatalf("index.json: %v %+v", err, im)
	}
	img, err := ii.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return im.Manifests[0], m
}

func layerTypes(m *v1.Manifest) []types.MediaType {
	var out []types.MediaType
	for _, l := range m.Layers {
		out = append(out, l.MediaType)
	}
	return out
}

// TestExporterCompressionAndMediaTypes: compression, force-compression and
// oci-mediatypes of an output reach the manifest as BuildKit writes them: new layers
// recompressed, the base image's kept unless forced, docker media types on request; the
// image ID (config) never changes.
func TestExporterCompressionAndMediaTypes(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	ctx := env.WriteFile("ctx/Dockerfile", exportersDockerfile)
	ctxDir := filepath.Dir(ctx)
	tests := []struct {
		name, attrs string
		manifest    types.MediaType
		layers      []types.MediaType
	}{
		{"default", "", types.OCIManifestSchema1, []types.MediaType{types.OCILayer, types.OCILayer}},
		{"zstd", ",compression=zstd", types.OCIManifestSchema1, []types.MediaType{types.OCILayer, types.OCILayerZStd}},
		{"zstd forced", ",compression=zstd,force-compression=true", types.OCIManifestSchema1, []types.MediaType{types.OCILayerZStd, types.OCILayerZStd}},
		{"uncompressed", ",compression=uncompressed,compression-level=0", types.OCIManifestSchema1, nil},
		{"uncompressed forced", ",compression=uncompressed,force-compression=true", types.OCIManifestSchema1, []types.MediaType{types.OCIUncompressedLayer, types.OCIUncompressedLayer}},
		{"docker types", ",oci-mediatypes=false", types.DockerManifestSchema2, []types.MediaType{types.DockerLayer, types.DockerLayer}},
		{"gzip level", ",compression=gzip,compression-level=9", types.OCIManifestSchema1, []types.MediaType{types.OCILayer, types.OCILayer}},
	}
	var ids []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(env.Dir, strings.ReplaceAll(tt.name, " ", "-"))
			iid := dir + ".iid"
			out, errOut, code := env.Run("build", "--progress=plain", "--iidfile", iid, "-o", "type=oci,dest="+dir+",tar=false"+tt.attrs, ctxDir)
			if tt.layers == nil {
				if code == 0 || !strings.Contains(errOut, "compression-level does not apply to compression=uncompressed") {
					t.Fatalf("want a refusal naming compression-level, got exit %d\n%s%s", code, out, errOut)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			desc, m := layoutManifest(t, dir)
			if desc.MediaType != tt.manifest || m.MediaType != tt.manifest {
				t.Errorf("manifest media type %s (descriptor %s), want %s", m.MediaType, desc.MediaType, tt.manifest)
			}
			if got := layerTypes(m); strings.Join(typesStrings(got), " ") != strings.Join(typesStrings(tt.layers), " ") {
				t.Errorf("layers %v, want %v", got, tt.layers)
			}
			id, _ := os.ReadFile(iid)
			ids = append(ids, string(id))
		})
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("image IDs differ across compressions: %q", ids)
		}
	}
}

func typesStrings(ts []types.MediaType) []string {
	var out []string
	for _, t := range ts {
		out = append(out, string(t))
	}
	return out
}

// TestExporterAnnotations: --annotation and annotation.* output attributes put their
// values where BuildKit does: manifest annotations in the manifest, manifest-descriptor
// ones in index.json; index annotations on a single image are refused as BuildKit does.
func TestExporterAnnotations(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	ctxDir := filepath.Dir(env.WriteFile("ctx/Dockerfile", exportersDockerfile))
	dir := filepath.Join(env.Dir, "annotated")
	mustBuild(t, env, "-t", "annotated:1", "--annotation", "org.opencontainers.image.title=hush-title",
		"--annotation", "manifest-descriptor:org.opencontainers.image.description=desc",
		"-o", "type=oci,tar=false,dest="+dir+",annotation.org.opencontainers.image.vendor=acme")
	desc, m := layoutManifest(t, dir)
	if m.Annotations["org.opencontainers.image.title"] != "hush-title" || m.Annotations["org.opencontainers.image.vendor"] != "acme" {
		t.Errorf("manifest annotations %v", m.Annotations)
	}
	if desc.Annotations["org.opencontainers.image.description"] != "desc" || desc.Annotations["org.opencontainers.image.ref.name"] != "1" {
		t.Errorf("index.json descriptor annotations %v", desc.Annotations)
	}
	_, errOut, code := env.Run("build", "--progress=plain", "--annotation", "index:a=b", "-o", "type=oci,dest="+dir+"2", ctxDir)
	if code == 0 || !strings.Contains(errOut, "index annotations not supported for single platform export") {
		t.Errorf("index annotation on one image: exit %d\n%s", code, errOut)
	}
}

// TestExporterRegistryOptions: type=image,push=true and type=registry take their names
// from -t; push-by-digest pushes no tag; registry.insecure pushes over plain HTTP to a
// registry that is not on a loopback address; --metadata-file has buildx's keys.
func TestExporterRegistryOptions(t *testing.T) {
	requireHush(t)
	env := hushtest.NewEnv(t, hushBin)
	ctxDir := filepath.Dir(env.WriteFile("ctx/Dockerfile", exportersDockerfile))
	host := plainRegistry(t)
	ref := host + "/hush/app:1"

	_, errOut, code := env.Run("build", "--progress=plain", "-t", ref, "-o", "type=registry", ctxDir)
	if code == 0 || !strings.Contains(errOut, "pushing to "+host) {
		t.Fatalf("plain HTTP without registry.insecure: exit %d, want a push error\n%s", code, errOut)
	}
	md := filepath.Join(env.Dir, "md.json")
	mustBuild(t, env, "-t", ref, "--metadata-file", md, "-o", "type=registry,registry.insecure=true")
	got := remoteDigest(t, ref)
	var meta map[string]any
	b, _ := os.ReadFile(md)
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if meta["containerimage.digest"] != got.String() || meta["image.name"] != ref ||
		!strings.HasPrefix(meta["containerimage.config.digest"].(string), "sha256:") || !strings.HasPrefix(meta["buildx.build.ref"].(string), "hush/hush/") {
		t.Errorf("metadata %s, want the pushed digest %s and name %s", b, got, ref)
	}
	if d, ok := meta["containerimage.descriptor"].(map[string]any); !ok || d["digest"] != got.String() || d["mediaType"] != string(types.OCIManifestSchema1) {
		t.Errorf("containerimage.descriptor %v", meta["containerimage.descriptor"])
	}

	byDigest := host + "/hush/bydigest:1"
	mustBuild(t, env, "-t", byDigest, "--metadata-file", md, "-o", "type=image,push=true,push-by-digest=true,registry.insecure=true,compression=zstd")
	b, _ = os.ReadFile(md)
	_ = json.Unmarshal(b, &meta)
	dg := meta["containerimage.digest"].(string)
	if _, err := remoteGet(host + "/hush/bydigest@" + dg); err != nil {
		t.Errorf("push-by-digest: %s@%s: %v", byDigest, dg, err)
	}
	if _, err := remoteGet(byDigest); err == nil {
		t.Errorf("push-by-digest pushed the tag %s", byDigest)
	}
	if out, _, _ := env.Run("images"); !strings.Contains(out, "bydigest") {
		t.Errorf("type=image,push=true also stores the image: images = %q", out)
	}
}

// plainRegistry serves an in-memory registry over plain HTTP on a non-loopback address of
// this machine (so that only registry.insecure reaches it), and returns host:port.
func plainRegistry(t *testing.T) string {
	t.Helper()
	var ip string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			ip = n.IP.String()
			break
		}
	}
	hushtest.Require(t, ip != "", "needs a non-loopback IPv4 address for a plain-HTTP registry")
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func remoteGet(ref string) (*remote.Descriptor, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return nil, err
	}
	return remote.Get(r)
}

func remoteDigest(t *testing.T, ref string) v1.Hash {
	t.Helper()
	d, err := remoteGet(ref)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return d.Digest
}

// TestLoadIntoDocker: --load (and -o type=docker without dest) loads the image into the
// reachable docker engine, where docker run runs it and docker inspect shows hush's image
// ID.
func TestLoadIntoDocker(t *testing.T) {
	requireHush(t)
	hushtest.RequireDocker(t)
	env := hushtest.NewEnv(t, hushBin)
	if env.User != nil {
		env.User.JoinGroupOf(t, "/var/run/docker.sock") // a rootless docker user is in its group
	}
	env.WriteFile("ctx/Dockerfile", exportersDockerfile+"CMD [\"cat\", \"/exported.txt\"]\n")
	name := "hush-load-test:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", name, name+"-2").Run() })
	iid := filepath.Join(env.Dir, "iid")
	mustBuild(t, env, "--load", "-t", name, "--iidfile", iid)
	if out := run(t, "docker", "run", "--rm", name); strings.TrimSpace(out) != "exported" {
		t.Errorf("docker run %s: %q, want exported", name, out)
	}
	want, _ := os.ReadFile(iid)
	if out := run(t, "docker", "image", "inspect", "--format", "{{.Id}}", name); strings.TrimSpace(out) != string(want) {
		t.Errorf("docker's image ID %q, hush's %q", out, want)
	}
	mustBuild(t, env, "-t", name+"-2", "-o", "type=docker")
	run(t, "docker", "image", "inspect", name+"-2")
}
