package audit

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestScanAttestation: a secret anywhere in an attestation's strings is found, encoded
// too, and named by the attestation and its JSON field.
func TestScanAttestation(t *testing.T) {
	canary := "CANARY-attestation-4f1d2a"
	raw := `{"buildDefinition":{"externalParameters":{"request":{"args":{"build-arg:A":"x` + canary + `y","label:B":"` +
		base64.StdEncoding.EncodeToString([]byte(canary)) + `"}}}}}`
	fs, err := ScanAttestation([]byte(raw), "provenance attestation", map[string][]byte{"tok": []byte(canary)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 {
		t.Fatalf("findings %+v, want the raw and the base64 value", fs)
	}
	got := fs[0].Location.String() + "\n" + fs[1].Location.String()
	if !strings.Contains(got, `provenance attestation buildDefinition.externalParameters.request.args["build-arg:A"]`) ||
		!strings.Contains(got, `args["label:B"]`) {
		t.Errorf("locations:\n%s", got)
	}
	clean, _ := ScanAttestation([]byte(`{"a":"b"}`), "p", map[string][]byte{"tok": []byte(canary)}, Options{})
	if len(clean) != 0 {
		t.Errorf("clean attestation: %+v", clean)
	}
}
