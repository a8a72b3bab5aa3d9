package image

import "fmt"

// composeIndex writes an index of the artifact's platform images.
func composeIndex(a Artifact, o ExportOptions) (*Composed, error) {
	return nil, fmt.Errorf("composing an image index: not supported yet")
}

// Attestation is an in-toto predicate about one platform image: Compose wraps it in a
// statement whose subject is the image's final manifest (BuildKit's attestation manifest).
type Attestation struct {
	PredicateType string
	Predicate     []byte // JSON
}
