package plan

import (
	"fmt"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// HostPlatform is the platform hush runs on, normalized (BuildKit's worker platform).
func HostPlatform() ocispecs.Platform {
	return platforms.Normalize(platforms.DefaultSpec())
}

// ParsePlatform reads a platform as BuildKit does (os/arch[/variant], normalized: arm64
// drops v8, arm gets v7); "local" is the host's. hush builds linux images only.
func ParsePlatform(s string) (ocispecs.Platform, error) {
	if s == "local" {
		return HostPlatform(), nil
	}
	p, err := platforms.Parse(s)
	if err != nil {
		return ocispecs.Platform{}, fmt.Errorf("invalid platform %q: %w", s, err)
	}
	if p.OS != "linux" {
		return ocispecs.Platform{}, fmt.Errorf("platform %q: hush builds linux images only", s)
	}
	return platforms.Normalize(p), nil
}

// FormatPlatform is os/arch[/variant], as BuildKit writes TARGETPLATFORM.
func FormatPlatform(p ocispecs.Platform) string {
	return platforms.FormatAll(p)
}

// platformArgs are the args BuildKit defines for every Dockerfile (its defaultArgs): the
// build and target platforms and the target stage; a --build-arg of the same name wins.
func platformArgs(build, target ocispecs.Platform, stage string) [][2]string {
	if stage == "" {
		stage = "default"
	}
	return [][2]string{
		{"BUILDPLATFORM", platforms.Format(build)}, {"BUILDOS", build.OS}, {"BUILDOSVERSION", build.OSVersion},
		{"BUILDARCH", build.Architecture}, {"BUILDVARIANT", build.Variant},
		{"TARGETPLATFORM", platforms.FormatAll(target)}, {"TARGETOS", target.OS}, {"TARGETOSVERSION", target.OSVersion},
		{"TARGETARCH", target.Architecture}, {"TARGETVARIANT", target.Variant}, {"TARGETSTAGE", stage},
	}
}

// stagePlatform is a stage's platform: its FROM --platform, expanded with the global args
// (BUILDPLATFORM, TARGETPLATFORM, …), or the target's.
func (p *Plan) stagePlatform(src *instructions.Stage) (ocispecs.Platform, error) {
	if src.Platform == "" {
		return p.Platform, nil
	}
	v, err := ExpandWord(p.lex, src.Platform, p.meta)
	if err != nil {
		return ocispecs.Platform{}, fmt.Errorf("expanding FROM --platform=%s: %w", src.Platform, err)
	}
	pl, err := ParsePlatform(v)
	if err != nil {
		return ocispecs.Platform{}, fmt.Errorf("FROM --platform=%s: %w", src.Platform, err)
	}
	return pl, nil
}

// CrossTarget is BuildKit's "->ARCH" (or "->OS/ARCH") suffix of a step's platform in a
// multi-platform build: the target the stage's TARGET* args name, when the stage itself
// runs on another platform (FROM --platform=$BUILDPLATFORM); "" otherwise.
func (s *State) CrossTarget() string {
	var t ocispecs.Platform
	set := false
keys:
	for _, k := range s.run.Keys() {
		v, _ := s.run.Get(k)
		switch k {
		case "TARGETPLATFORM":
			if p, err := platforms.Parse(v); err == nil {
				t, set = p, true
				break keys
			}
		case "TARGETOS":
			t.OS, set = v, true
		case "TARGETARCH":
			t.Architecture, set = v, true
		case "TARGETVARIANT":
			t.Variant, set = v, true
		}
	}
	if !set {
		return ""
	}
	base := s.stage.Platform
	if t.OS == "" {
		t.OS = base.OS
	}
	if t.Architecture == "" {
		t.Architecture = base.Architecture
	}
	t = platforms.Normalize(t)
	switch {
	case t.OS == base.OS && t.Architecture != base.Architecture && t.Variant != "":
		return "->" + t.Architecture + "/" + t.Variant
	case t.OS == base.OS && t.Architecture != base.Architecture:
		return "->" + t.Architecture
	case t.OS != base.OS:
		return "->" + platforms.FormatAll(t)
	}
	return ""
}
