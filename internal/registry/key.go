package registry

import (
	"strings"

	"github.com/docker/cli/cli/config/credentials"
)

// DockerHubKey is the key docker uses for Docker Hub in config files and when
// asking credential helpers, kept for historical reasons.
const DockerHubKey = "https://index.docker.io/v1/"

// dockerHubHosts are the names that all mean Docker Hub.
var dockerHubHosts = map[string]bool{
	"docker.io":               true,
	"index.docker.io":         true,
	"registry-1.docker.io":    true,
	"registry.hub.docker.com": true,
}

// NormalizeKey maps a registry as written in a config file, a credential
// helper answer or an image reference to one canonical key: docker's
// ConvertToHostname (scheme and path dropped), lowercased and trimmed, and
// DockerHubKey for every Docker Hub alias. "https://Reg.example.com:5000/",
// "reg.example.com:5000" and "reg.example.com:5000/v2/" are all
// "reg.example.com:5000".
func NormalizeKey(s string) string {
	host := strings.ToLower(credentials.ConvertToHostname(strings.TrimSpace(s)))
	if dockerHubHosts[host] {
		return DockerHubKey
	}
	return host
}
