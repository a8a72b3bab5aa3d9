package audit

// KindAttestation is a finding in an attestation (a build's provenance) that goes with
// an image.
const KindAttestation = "attestation"

// ScanAttestation searches an attestation's JSON (every string, in every form of Forms)
// for the secret values, as the config is searched; name says which attestation.
func ScanAttestation(raw []byte, name string, secrets map[string][]byte, opts Options) ([]Finding, error) {
	m, err := newMatcher(secrets, opts)
	if err != nil {
		return nil, err
	}
	return m.scanJSON(raw, Location{Kind: KindAttestation, Path: name})
}
