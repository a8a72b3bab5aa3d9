package plan

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// parsePort reads one EXPOSE word, [[ip:]hostport:]port[-port][/proto], into its
// "port/proto" entries, as BuildKit's frontend does: a range gives one entry per port, the
// protocol (tcp by default) is lowercased, and an IP or host port is checked, then dropped.
func parsePort(raw string) ([]string, error) {
	ip, hostPort, containerPort := splitPortParts(raw)
	port, proto, _ := strings.Cut(containerPort, "/")
	if port == "" {
		return nil, fmt.Errorf("invalid port: %q: no port specified", raw)
	}
	switch strings.ToLower(proto) {
	case "":
		proto = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid port: %q: invalid proto: %s", raw, proto)
	}
	if strings.HasPrefix(ip, "[") {
		h, ok := strings.CutSuffix(ip[1:], "]")
		if !ok {
			return nil, fmt.Errorf("invalid IP address %v", ip)
		}
		ip = h
	}
	if ip != "" {
		if a, err := netip.ParseAddr(ip); err != nil || a.Zone() != "" {
			return nil, errors.New("invalid IP address: " + ip)
		}
	}
	start, end, err := portRange(port)
	if err != nil {
		return nil, errors.New("invalid containerPort: " + port)
	}
	if hostPort != "" {
		hs, he, err := portRange(hostPort)
		if err != nil {
			return nil, errors.New("invalid hostPort: " + hostPort)
		}
		if end-start != he-hs && end != start {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", port, hostPort)
		}
	}
	out := make([]string, 0, end-start+1)
	for p := start; p <= end; p++ {
		out = append(out, strconv.Itoa(p)+"/"+strings.ToLower(proto))
	}
	return out, nil
}

// splitPortParts splits [ip:]hostport:port; an IPv6 address keeps its colons.
func splitPortParts(raw string) (ip, hostPort, port string) {
	parts := strings.Split(raw, ":")
	n := len(parts)
	switch n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	default:
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}

// portRange reads "N" or "N-M" (0–65535, M ≥ N).
func portRange(s string) (int, int, error) {
	if s == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	a, b, ranged := strings.Cut(s, "-")
	start, err := portNumber(a)
	if err != nil {
		return 0, 0, err
	}
	if !ranged || a == b {
		return start, start, nil
	}
	end, err := portNumber(b)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, errors.New("invalid port range: " + s)
	}
	return start, end, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 65535 {
		return 0, errors.New("value out of range (0–65535)")
	}
	return int(n), nil
}
