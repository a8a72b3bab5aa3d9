package provenance

import (
	"encoding/json"
	"strings"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/package-url/packageurl-go"
)

// statementType is the in-toto statement version BuildKit writes.
const statementType = "https://in-toto.io/Statement/v1"

// Subject is what a statement is about: a purl (or "_") and the image manifest's digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []Subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Statement is the in-toto statement of a predicate about an image manifest: one subject
// per image name (its purl for the platform), as BuildKit names them.
func Statement(predicateType string, predicate []byte, names []string, p v1.Platform, manifest v1.Hash) ([]byte, error) {
	var subjects []Subject
	for _, n := range names {
		subjects = append(subjects, Subject{Name: ImagePURL(n, p), Digest: map[string]string{manifest.Algorithm: manifest.Hex}})
	}
	if len(subjects) == 0 {
		subjects = []Subject{{Name: "_", Digest: map[string]string{manifest.Algorithm: manifest.Hex}}}
	}
	return json.Marshal(statement{Type: statementType, PredicateType: predicateType, Subject: subjects, Predicate: predicate})
}

// FilesStatement is the in-toto statement of a predicate about the files of a local or
// tar output (one subject per regular file: its path and sha256), indented as BuildKit's
// local exporter writes it.
func FilesStatement(predicateType string, predicate []byte, files []Subject) ([]byte, error) {
	if files == nil {
		files = []Subject{}
	}
	return json.MarshalIndent(statement{Type: statementType, PredicateType: predicateType, Subject: files, Predicate: predicate}, "", "  ")
}

// FileSubject is a file's subject: its path in the output and its content digest.
func FileSubject(path string, d v1.Hash) Subject {
	return Subject{Name: path, Digest: map[string]string{d.Algorithm: d.Hex}}
}

// ImagePURL is BuildKit's package URL of an image reference (a normalized name) for a
// platform: pkg:docker/NAMESPACE/NAME@TAG?platform=OS%2FARCH, or ?digest= for a digest
// reference.
func ImagePURL(normalized string, p v1.Platform) string {
	name, version := normalized, ""
	var qs packageurl.Qualifiers
	if i := strings.LastIndex(name, "@"); i >= 0 {
		qs = append(qs, packageurl.Qualifier{Key: "digest", Value: name[i+1:]})
		name = name[:i]
	} else if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, version = name[:i], name[i+1:]
	} else {
		version = "latest"
	}
	name = strings.TrimPrefix(strings.TrimPrefix(name, "docker.io/"), "library/")
	ns := ""
	if i := strings.LastIndex(name, "/"); i >= 0 {
		ns, name = name[:i], name[i+1:]
	}
	if p.OS != "" {
		pl := platforms.Normalize(platforms.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
		qs = append(qs, packageurl.Qualifier{Key: "platform", Value: platforms.Format(pl)})
	}
	return packageurl.NewPackageURL(packageurl.TypeDocker, ns, name, version, qs, "").ToString()
}
