package provenance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func capture() Capture {
	return Capture{
		Args: map[string]string{"filename": "Dockerfile", "build-arg:A": "1", "build-arg:HIDDEN": "hidden-value",
			"label:L": "l", "target": "app", "context": "https://example.com/r.git#main"},
		Private:   map[string]bool{"build-arg:HIDDEN": true},
		Secrets:   []Mount{{ID: "tok", Optional: true}},
		Materials: []Material{{URI: "https://example.com/r.git#main", Digest: map[string]string{"sha1": "abc"}}},
		Started:   time.Unix(10, 0), Done: time.Unix(20, 0), BuilderPlatform: "linux/amd64", InvocationID: "id",
	}
}

func decode(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func dig(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

// TestPredicateModes: mode=max keeps the args (never a private one, which marks the
// request incomplete), the secret ids and the config source; mode=min drops build args,
// labels, secrets and SSH as BuildKit's scrubMinRequest does; v0.2 is BuildKit's shape.
func TestPredicateModes(t *testing.T) {
	pt, raw, err := Predicate(capture(), Options{Mode: "max", BuilderID: "b"})
	if err != nil || pt != PredicateV1 {
		t.Fatal(pt, err)
	}
	if strings.Contains(string(raw), "hidden-value") || strings.Contains(string(raw), "HIDDEN") {
		t.Fatalf("private arg written: %s", raw)
	}
	m := decode(t, raw)
	req := dig(m, "buildDefinition", "externalParameters", "request")
	if dig(req, "args", "build-arg:A") != "1" || dig(req, "args", "label:L") != "l" || dig(req, "args", "target") != "app" {
		t.Errorf("max args: %v", req)
	}
	if dig(req, "args", "context") != nil || dig(m, "buildDefinition", "externalParameters", "configSource", "uri") != "https://example.com/r.git#main" ||
		dig(m, "buildDefinition", "externalParameters", "configSource", "path") != "Dockerfile" {
		t.Errorf("config source: %v", dig(m, "buildDefinition", "externalParameters"))
	}
	if dig(m, "buildDefinition", "externalParameters", "configSource", "digest", "sha1") != "abc" {
		t.Errorf("config source digest missing: %s", raw)
	}
	if dig(m, "runDetails", "metadata", "buildkit_completeness", "request") != false || dig(m, "runDetails", "builder", "id") != "b" {
		t.Errorf("run details: %v", dig(m, "runDetails"))
	}
	if dig(m, "runDetails", "metadata", "startedOn") != "1970-01-01T00:00:10Z" {
		t.Errorf("startedOn: %v", dig(m, "runDetails", "metadata"))
	}

	c := capture()
	c.Private = nil
	_, raw, _ = Predicate(c, Options{Mode: "min"})
	m = decode(t, raw)
	req = dig(m, "buildDefinition", "externalParameters", "request")
	if dig(req, "args", "build-arg:A") != nil || dig(req, "args", "label:L") != nil || dig(req, "secrets") != nil || dig(req, "args", "target") != "app" {
		t.Errorf("min request: %v", req)
	}
	if dig(m, "runDetails", "metadata", "buildkit_completeness", "request") != false {
		t.Error("min mode with build args scrubbed must be incomplete")
	}

	pt, raw, _ = Predicate(capture(), Options{Mode: "max", Version: "v0.2"})
	m = decode(t, raw)
	if pt != PredicateV02 || dig(m, "buildType") != "https://mobyproject.org/buildkit@v1" ||
		dig(m, "invocation", "parameters", "args", "build-arg:A") != "1" || dig(m, "invocation", "environment", "platform") != "linux/amd64" ||
		dig(m, "metadata", "completeness", "parameters") != false {
		t.Errorf("v0.2: %s", raw)
	}
	if _, _, err := Predicate(capture(), Options{Mode: "fast"}); err == nil {
		t.Error("invalid mode accepted")
	}
}

// TestMetadata: buildx's buildx.build.provenance is v0.2 with args; "min" drops metadata.
func TestMetadata(t *testing.T) {
	raw, err := Metadata(capture(), "min")
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, raw)
	if dig(m, "metadata") != nil || dig(m, "invocation", "parameters", "args", "build-arg:A") != "1" || strings.Contains(string(raw), "hidden-value") {
		t.Errorf("min metadata provenance: %s", raw)
	}
	raw, _ = Metadata(capture(), "max")
	if m := decode(t, raw); dig(m, "metadata", "buildInvocationID") != "id" {
		t.Errorf("max metadata provenance: %s", raw)
	}
}

func TestImagePURL(t *testing.T) {
	amd := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	tests := []struct {
		ref  string
		p    v1.Platform
		want string
	}{
		{"docker.io/library/alpine:3.20", amd, "pkg:docker/alpine@3.20?platform=linux%2Famd64"},
		{"docker.io/user/app:latest", arm, "pkg:docker/user/app@latest?platform=linux%2Farm%2Fv7"},
		{"registry.example.com:5000/team/app:v1", amd, "pkg:docker/registry.example.com:5000/team/app@v1?platform=linux%2Famd64"},
		{"docker.io/library/alpine@sha256:" + strings.Repeat("a", 64), v1.Platform{},
			"pkg:docker/alpine?digest=sha256:" + strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		if got := ImagePURL(tt.ref, tt.p); got != tt.want {
			t.Errorf("ImagePURL(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

// TestStatements: an image statement's subjects are its names' purls (or "_"), a files
// statement's the files, indented.
func TestStatements(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
	raw, err := Statement(PredicateV1, []byte(`{}`), nil, v1.Platform{OS: "linux", Architecture: "amd64"}, d)
	if err != nil {
		t.Fatal(err)
	}
	if m := decode(t, raw); dig(m, "_type") != "https://in-toto.io/Statement/v1" || dig(m["subject"].([]any)[0], "name") != "_" {
		t.Errorf("unnamed statement: %s", raw)
	}
	raw, _ = FilesStatement(PredicateV1, []byte(`{}`), []Subject{FileSubject("bin/sh", d)})
	if !strings.Contains(string(raw), "\n  \"subject\": [") || !strings.Contains(string(raw), `"name": "bin/sh"`) {
		t.Errorf("files statement: %s", raw)
	}
}
