package buildflags

import (
	"fmt"
	"net"
	"strings"

	units "github.com/docker/go-units"

	"github.com/hush-build/hush/internal/builder"
)

// hostGateway is docker's name for the host's address in --add-host. hush's steps share
// the host's network, where the host is 127.0.0.1.
const hostGateway = "host-gateway"

// ParseHosts reads --add-host values: HOST:IP or HOST=IP, several IPs separated by
// commas, an IPv6 address optionally in brackets, host-gateway for the host.
func ParseHosts(values []string) ([]builder.Host, error) {
	var out []builder.Host
	for _, h := range values {
		host, ip, ok := strings.Cut(h, "=")
		if !ok {
			host, ip, ok = strings.Cut(h, ":")
		}
		if !ok || host == "" || ip == "" {
			return nil, fmt.Errorf("--add-host %q: invalid host: want HOST:IP", h)
		}
		if ip == hostGateway {
			out = append(out, builder.Host{Name: host, IP: "127.0.0.1"})
			continue
		}
		for v := range strings.SplitSeq(ip, ",") {
			if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
				v = v[1 : len(v)-1]
			}
			if net.ParseIP(v) == nil {
				return nil, fmt.Errorf("--add-host %q: invalid host: %q is not an IP address", h, v)
			}
			out = append(out, builder.Host{Name: host, IP: v})
		}
	}
	return out, nil
}

// ParseUlimits reads --ulimit values, docker's NAME=SOFT[:HARD] (nofile, nproc, core, …).
// A later value for the same name replaces an earlier one.
func ParseUlimits(values []string) ([]builder.Ulimit, error) {
	var out []builder.Ulimit
	index := map[string]int{}
	for _, v := range values {
		u, err := units.ParseUlimit(v)
		if err != nil {
			return nil, fmt.Errorf("--ulimit %q: %w", v, err)
		}
		ul := builder.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard}
		if i, ok := index[u.Name]; ok {
			out[i] = ul
			continue
		}
		index[u.Name] = len(out)
		out = append(out, ul)
	}
	return out, nil
}

// ParseShmSize reads --shm-size, docker's byte size ("64m", "1g", "1048576"); "" is 0.
func ParseShmSize(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(v)
	if err != nil {
		return 0, fmt.Errorf("--shm-size %q: %w", v, err)
	}
	if n <= 0 {
		return 0, fmt.Errorf("--shm-size %q: want a positive size", v)
	}
	return n, nil
}

// ParseAllow reads --allow entitlements: network.host, security.insecure, and buildx's
// buildx.local.delete (accepted: hush replaces an output's own earlier files anyway).
// device needs CDI devices, which hush does not offer.
func ParseAllow(values []string) (builder.Entitlements, error) {
	var e builder.Entitlements
	for _, v := range values {
		key, _, hasValue := strings.Cut(v, "=")
		switch {
		case v == "":
		case v == "network.host":
			e.NetworkHost = true
		case v == "security.insecure":
			e.SecurityInsecure = true
		case key == "buildx.local.delete" && !hasValue:
		case key == "buildx.local.delete":
			return e, fmt.Errorf("--allow %q: buildx.local.delete does not accept a value", v)
		case key == "device":
			return e, fmt.Errorf("--allow %q: device entitlements (CDI devices) are not supported by hush", v)
		default:
			return e, fmt.Errorf("--allow %q: unknown entitlement %s (want network.host or security.insecure)", v, v)
		}
	}
	return e, nil
}
