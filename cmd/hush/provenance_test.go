package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/hush-build/hush/internal/hushtest"
)

const provenanceDockerfile = `FROM busybox
ARG PLAIN
RUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo "built $PLAIN" > /out.txt
`

// statement is the part of an in-toto statement the tests read.
type statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate struct {
		BuildDefinition struct {
			ExternalParameters struct {
				Request struct {
					Args    map[string]string `json:"args"`
					Secrets []struct {
						ID string `json:"id"`
					} `json:"secrets"`
				} `json:"request"`
			} `json:"externalParameters"`
			ResolvedDependencies []struct {
				URI string `json:"uri"`
			} `json:"resolvedDependencies"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Metadata struct {
				Completeness struct {
					Request bool `json:"request"`
				} `json:"buildkit_completeness"`
			} `json:"metadata"`
		} `json:"runDetails"`
	} `json:"predicate"`
}

// provenanceEnv is a build context, a secret file holding canary, and an age-encrypted
// --build-arg-file (FILEARG=fileValue) with the identity to open it.
type provenanceEnv struct {
	env                                     *hushtest.Env
	ctx, tok, args, idFn, canary, fileValue string
}

func newProvenanceEnv(t *testing.T, canary, fileValue string) *provenanceEnv {
	env := hushtest.NewEnv(t, hushBin)
	p := &provenanceEnv{env: env, ctx: filepath.Dir(env.WriteFile("ctx/Dockerfile", provenanceDockerfile)),
		canary: canary, fileValue: fileValue}
	p.tok = env.WriteFile("tok", canary)
	keys := filepath.Join(env.Dir, "keys")
	os.MkdirAll(keys, 0o700)
	var rcpt string
	p.idFn, rcpt = keygen(t, keys, "id.txt")
	env.WriteFile("keys/args.env", "FILEARG="+fileValue+"\n")
	p.args = filepath.Join(keys, "args.age")
	if _, e, code := secretCLI(t, keys, nil, nil, "encrypt", "-r", rcpt, "-o", p.args, "args.env"); code != 0 {
		t.Fatalf("encrypt: %d %s", code, e)
	}
	os.Remove(filepath.Join(keys, "args.env"))
	return p
}

// build runs hush build with the secret, the canary as an undeclared build arg, the
// encrypted arg file and PLAIN=visible, plus args.
func (p *provenanceEnv) build(t *testing.T, args ...string) string {
	t.Helper()
	all := append([]string{"build", "--progress=plain", "--secret", "id=tok,src=" + p.tok,
		"--build-arg", "LEAK=" + p.canary, "--build-arg", "PLAIN=visible", "--build-arg-file", p.args}, args...)
	cmd := p.env.Command(append(all, p.ctx)...)
	cmd.Env = append(cmd.Env, "HUSH_IDENTITY_FILE="+p.idFn)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hush %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	return string(out)
}

// TestProvenanceAttestation: --provenance writes BuildKit's attestation manifest into an
// OCI index, an in-toto statement about the image manifest whose SLSA predicate lists
// the build args — but never a value that holds a supplied secret, nor one from an
// encrypted --build-arg-file (the request is then marked incomplete); mode=min lists no
// args or secrets; --metadata-file gets buildx.build.provenance, without them either.
func TestProvenanceAttestation(t *testing.T) {
	requireHush(t)
	p := newProvenanceEnv(t, "CANARY-provenance-5b7e0c", "file-arg-value-91d3")
	maxDir, minDir := filepath.Join(p.env.Dir, "max"), filepath.Join(p.env.Dir, "min")
	md := filepath.Join(p.env.Dir, "md.json")
	p.build(t, "-t", "prov:1", "--provenance=mode=max", "--metadata-file", md, "-o", "type=oci,tar=false,dest="+maxDir)
	p.build(t, "--attest", "type=provenance,mode=min", "-o", "type=oci,tar=false,dest="+minDir)

	st, imgDigest := layoutAttestation(t, maxDir)
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://slsa.dev/provenance/v1" {
		t.Errorf("statement type %q, predicate type %q", st.Type, st.PredicateType)
	}
	if len(st.Subject) != 1 || st.Subject[0].Name != "pkg:docker/prov@1?platform=linux%2F"+runtime.GOARCH ||
		st.Subject[0].Digest["sha256"] != imgDigest.Hex {
		t.Errorf("subjects %+v, want the image manifest %s as pkg:docker/prov@1", st.Subject, imgDigest)
	}
	req := st.Predicate.BuildDefinition.ExternalParameters.Request
	if req.Args["build-arg:PLAIN"] != "visible" || len(req.Secrets) != 1 || req.Secrets[0].ID != "tok" {
		t.Errorf("mode=max request %+v: want PLAIN and the secret id tok", req)
	}
	for k := range req.Args {
		if k == "build-arg:LEAK" || k == "build-arg:FILEARG" {
			t.Errorf("mode=max wrote %s", k)
		}
	}
	if st.Predicate.RunDetails.Metadata.Completeness.Request {
		t.Error("completeness.request is true though args were left out")
	}
	if deps := st.Predicate.BuildDefinition.ResolvedDependencies; len(deps) != 1 || !strings.HasPrefix(deps[0].URI, "pkg:docker/busybox@latest") {
		t.Errorf("resolvedDependencies %+v, want busybox", deps)
	}
	st, _ = layoutAttestation(t, minDir)
	if req := st.Predicate.BuildDefinition.ExternalParameters.Request; len(req.Args) != 0 || len(req.Secrets) != 0 {
		t.Errorf("mode=min request %+v: want no args and no secrets", req)
	}
	var meta struct {
		Prov struct {
			Invocation struct {
				Parameters struct {
					Args map[string]string `json:"args"`
				} `json:"parameters"`
			} `json:"invocation"`
		} `json:"buildx.build.provenance"`
	}
	raw, _ := os.ReadFile(md)
	if err := json.Unmarshal(raw, &meta); err != nil || meta.Prov.Invocation.Parameters.Args["build-arg:PLAIN"] != "visible" {
		t.Errorf("metadata file buildx.build.provenance: %v\n%s", err, raw)
	}
	// Pushed, the index carries the attestation manifest; the registry holds no secret.
	host := plainRegistry(t)
	ref := host + "/hush/prov:1"
	p.build(t, "-t", ref, "--provenance=mode=max", "-o", "type=registry,registry.insecure=true")
	d, err := remoteGet(ref)
	if err != nil {
		t.Fatal(err)
	}
	ii, err := d.ImageIndex()
	if err != nil {
		t.Fatalf("pushed %s is not an index: %v", d.MediaType, err)
	}
	im, _ := ii.IndexManifest()
	if len(im.Manifests) != 2 || im.Manifests[1].Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
		t.Errorf("pushed index %+v", im.Manifests)
	}
	p.noLeaks()
}

// TestProvenanceFiles: a local output gets provenance.json (BuildKit's local exporter),
// a statement about every regular file by path and sha256; a tar output ends with it;
// inline-only keeps it out of both, and the hush store keeps the image without it.
func TestProvenanceFiles(t *testing.T) {
	requireHush(t)
	p := newProvenanceEnv(t, "CANARY-provenance-files-3e81", "file-arg-value-0a2f")
	local, bare := filepath.Join(p.env.Dir, "local"), filepath.Join(p.env.Dir, "bare")
	tarOut := filepath.Join(p.env.Dir, "out.tar")
	p.build(t, "--provenance=true", "-o", "type=local,dest="+local, "-o", "type=tar,dest="+tarOut)
	p.build(t, "--provenance=inline-only=true", "-o", "type=local,dest="+bare)
	out := p.build(t, "--provenance=true", "-t", "stored:1")

	raw, err := os.ReadFile(filepath.Join(local, "provenance.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st statement
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("built visible\n"))
	found := false
	for _, s := range st.Subject {
		found = found || (s.Name == "out.txt" && s.Digest["sha256"] == hex.EncodeToString(sum[:]))
		if s.Name == "provenance.json" {
			t.Error("provenance.json is its own subject")
		}
	}
	if !found || st.PredicateType != "https://slsa.dev/provenance/v1" {
		t.Errorf("provenance.json subjects %+v: want out.txt with its sha256", st.Subject)
	}
	if got := run(t, "tar", "tf", tarOut); !strings.HasSuffix(got, "provenance.json\n") {
		t.Errorf("tar output does not end with provenance.json:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(bare, "provenance.json")); !os.IsNotExist(err) {
		t.Errorf("inline-only provenance written to a local output: %v", err)
	}
	if !strings.Contains(out, "WARN: the hush store keeps the image without its attestations") {
		t.Errorf("no warning that the store drops the attestation:\n%s", out)
	}
	p.noLeaks()
}

// noLeaks checks that neither the secret nor the encrypted arg file's value is anywhere
// but in the inputs (the secret file is removed first).
func (p *provenanceEnv) noLeaks() {
	os.Remove(p.tok)
	p.env.NoCanary([]byte(p.canary))
	p.env.NoCanary([]byte(p.fileValue))
}

// layoutIndex reads the index an OCI layout's index.json names: the build's index.
func layoutIndex(t *testing.T, dir string) (v1.ImageIndex, *v1.IndexManifest, v1.Hash) {
	t.Helper()
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := ii.IndexManifest()
	idx, err := ii.ImageIndex(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return idx, im, top.Manifests[0].Digest
}

// readStatement reads the one in-toto statement of an attestation manifest.
func readStatement(t *testing.T, idx v1.ImageIndex, att v1.Descriptor) statement {
	t.Helper()
	a, err := idx.Image(att.Digest)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := a.Layers()
	if len(ls) != 1 {
		t.Fatalf("attestation manifest has %d layers", len(ls))
	}
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var st statement
	if err := json.NewDecoder(rc).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// layoutAttestation reads the OCI layout's index: the image manifest, then its attestation
// manifest (BuildKit's annotations, subject) holding one in-toto statement.
func layoutAttestation(t *testing.T, dir string) (statement, v1.Hash) {
	t.Helper()
	idx, im, _ := layoutIndex(t, dir)
	if len(im.Manifests) != 2 {
		t.Fatalf("index has %d manifests, want the image and its attestation", len(im.Manifests))
	}
	imgDesc, attDesc := im.Manifests[0], im.Manifests[1]
	if attDesc.Annotations["vnd.docker.reference.type"] != "attestation-manifest" ||
		attDesc.Annotations["vnd.docker.reference.digest"] != imgDesc.Digest.String() ||
		attDesc.Platform == nil || attDesc.Platform.OS != "unknown" {
		t.Errorf("attestation descriptor %+v", attDesc)
	}
	att, err := idx.Image(attDesc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := att.Manifest()
	if m.Subject == nil || m.Subject.Digest != imgDesc.Digest || len(m.Layers) != 1 ||
		m.Layers[0].MediaType != "application/vnd.in-toto+json" {
		t.Fatalf("attestation manifest %+v", m)
	}
	return readStatement(t, idx, attDesc), imgDesc.Digest
}
