package registry

import "testing"

func TestNormalizeKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"reg.example.com", "reg.example.com"},
		{"reg.example.com/", "reg.example.com"},
		{"https://reg.example.com/", "reg.example.com"},
		{"https://reg.example.com", "reg.example.com"},
		{"http://reg.example.com:5000/v2/", "reg.example.com:5000"},
		{"HTTPS://Reg.Example.COM:5000", "reg.example.com:5000"},
		{"  reg.example.com/some/path  ", "reg.example.com"},
		{"127.0.0.1:5000/", "127.0.0.1:5000"},
		{"docker.io", DockerHubKey},
		{"index.docker.io", DockerHubKey},
		{"registry-1.docker.io", DockerHubKey},
		{"https://index.docker.io/v1/", DockerHubKey},
		{"https://index.docker.io/v1", DockerHubKey},
		{"registry.hub.docker.com", DockerHubKey},
		{"docker.io.example.com", "docker.io.example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeKey(tt.in); got != tt.want {
			t.Errorf("NormalizeKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
