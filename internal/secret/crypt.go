package secret

import (
	"bytes"
	"fmt"

	"github.com/hush-build/hush/internal/secretfile"
)

// ReadEnvFile reads the env file at path, plain or age-encrypted (decrypted in memory
// with the identities lookupEnv leads to, see secretfile.FindIdentities), and parses it
// with ParseEnvFile. This is what --secret-env-file and --build-arg-file read.
func ReadEnvFile(path string, lookupEnv func(string) (string, bool)) ([]EnvVar, error) {
	data, err := secretfile.OpenEnv(path, lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	defer clear(data)
	vars, err := ParseEnvFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return vars, nil
}
