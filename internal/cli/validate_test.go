package cli

import (
	"io"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/progress"
)

// TestBuildFlagValidation: hush build's flag values are checked and mapped before any work
// starts, with errors that name the flag and what it wants.
func TestBuildFlagValidation(t *testing.T) {
	t.Setenv("FROM_ENV", "env-value")
	t.Setenv("bare", "not a label value")
	tests := []struct {
		name    string
		opts    func(*buildOptions)
		wantErr string
		check   func(*testing.T, *buildFlags, *buildOptions)
	}{
		{name: "build args, a bare KEY from the environment", opts: func(o *buildOptions) {
			o.buildArgs = []string{"FROM_ENV", "UNSET_IN_ENV", "PLAIN=v", "EMPTY=", "EQ=a=b"}
		}, check: wantMap(func(p *buildFlags) map[string]string { return p.args },
			map[string]string{"FROM_ENV": "env-value", "PLAIN": "v", "EMPTY": "", "EQ": "a=b"})},
		{name: "build arg without a key", opts: func(o *buildOptions) { o.buildArgs = []string{"=v"} },
			wantErr: `--build-arg "=v": want KEY=VALUE`},
		{name: "labels, a bare KEY is empty", opts: func(o *buildOptions) { o.labels = []string{"a=b", "bare"} },
			check: wantMap(func(p *buildFlags) map[string]string { return p.labels }, map[string]string{"a": "b", "bare": ""})},
		{name: "label without a key", opts: func(o *buildOptions) { o.labels = []string{"=x"} },
			wantErr: `--label "=x": want KEY=VALUE`},
		{name: "audit warn", opts: func(o *buildOptions) { o.audit = "warn" }},
		{name: "audit off", opts: func(o *buildOptions) { o.audit = "off" }},
		{name: "audit unknown", opts: func(o *buildOptions) { o.audit = "strict" },
			wantErr: `--audit "strict": want fail, warn or off`},
		{name: "network host", opts: func(o *buildOptions) { o.network = "host" }},
		{name: "network none", opts: func(o *buildOptions) { o.network = "none" }},
		{name: "network unknown", opts: func(o *buildOptions) { o.network = "bridge" },
			wantErr: `--network "bridge": want default, host or none`},
		{name: "push with a tag", opts: func(o *buildOptions) { o.push, o.tags = true, []string{"reg.example/app:1"} },
			check: wantOutput("image", true)},
		{name: "push without a name", opts: func(o *buildOptions) { o.push = true },
			wantErr: "--push: name the image with -t NAME"},
		{name: "push=true output without a name", opts: func(o *buildOptions) { o.outputs = []string{"type=image,push=true"} },
			wantErr: "--push: name the image with -t NAME"},
		{name: "registry output names the image", opts: func(o *buildOptions) { o.outputs = []string{"type=registry,name=reg.example/app"} },
			check: wantOutput("image", true)},
		{name: "push with a local output adds a registry output, as buildx 0.38 does", opts: func(o *buildOptions) {
			o.push, o.tags, o.outputs = true, []string{"app"}, []string{"type=local,dest=" + t.TempDir()}
		}, check: wantOutputs("local", "image push")},
		{name: "push pushes the image output", opts: func(o *buildOptions) {
			o.push, o.tags, o.outputs = true, []string{"app"}, []string{"type=oci,dest=x.tar", "type=image,compression=zstd"}
		}, check: wantOutputs("oci", "image push")},
		{name: "two outputs", opts: func(o *buildOptions) { o.outputs = []string{"type=image", "type=tar,dest=x.tar"} },
			check: wantOutputs("image", "tar")},
		{name: "load adds a docker output without dest", opts: func(o *buildOptions) { o.load = true },
			check: wantOutputs("docker load")},
		{name: "load with -o type=docker adds nothing", opts: func(o *buildOptions) { o.load, o.outputs = true, []string{"type=docker"} },
			check: wantOutputs("docker load")},
		{name: "push and load", opts: func(o *buildOptions) { o.load, o.push, o.tags = true, true, []string{"app"} },
			check: wantOutputs("image push", "docker load")},
		{name: "no-cache with no-cache-filter", opts: func(o *buildOptions) { o.noCache, o.noCacheFilter = true, []string{"a"} },
			wantErr: "--no-cache and --no-cache-filter cannot currently be used together"},
		{name: "annotation", opts: func(o *buildOptions) { o.annotations = []string{"index:k=v"} }, check: func(t *testing.T, p *buildFlags, _ *buildOptions) {
			if p.annotations.Index["k"] != "v" {
				t.Errorf("annotations %+v, want index k=v", p.annotations)
			}
		}},
		{name: "bad annotation", opts: func(o *buildOptions) { o.annotations = []string{"nokey"} }, wantErr: `--annotation "nokey"`},
		{name: "zstd with docker media types", opts: func(o *buildOptions) { o.outputs = []string{"type=image,compression=zstd,oci-mediatypes=false"} },
			wantErr: `"compression=zstd" conflicts with "oci-mediatypes=false"`},
		{name: "bad tag", opts: func(o *buildOptions) { o.tags = []string{"bad name"} }, wantErr: `--tag "bad name"`},
		{name: "quiet", opts: func(o *buildOptions) { o.quiet, o.progress = true, "auto" }, check: func(t *testing.T, _ *buildFlags, o *buildOptions) {
			if o.progress != progress.ModeQuiet {
				t.Errorf("progress %q, want quiet", o.progress)
			}
		}},
		{name: "unknown progress", opts: func(o *buildOptions) { o.progress = "fancy" }, wantErr: "--progress: unknown progress mode"},
		{name: "progress quiet is -q", opts: func(o *buildOptions) { o.progress = "quiet" }, check: func(t *testing.T, _ *buildFlags, o *buildOptions) {
			if !o.quiet {
				t.Error("--progress=quiet did not set quiet (buildx prints the image ID)")
			}
		}},
		{name: "progress none is not -q", opts: func(o *buildOptions) { o.progress = "none" }, check: func(t *testing.T, _ *buildFlags, o *buildOptions) {
			if o.quiet {
				t.Error("--progress=none set quiet")
			}
		}},
		{name: "progress rawjson", opts: func(o *buildOptions) { o.progress = "rawjson" }},
		{name: "quiet with plain", opts: func(o *buildOptions) { o.quiet, o.progress = true, "plain" },
			wantErr: "progress=plain and quiet cannot be used together"},
		{name: "secret without an id", opts: func(o *buildOptions) { o.secrets = []string{"src=/x"} }, wantErr: `--secret "src=/x"`},
		{name: "ssh with a bad id", opts: func(o *buildOptions) { o.ssh = []string{"a b"} }, wantErr: "--ssh: "},
		{name: "sbom is not supported yet", opts: func(o *buildOptions) { o.sbom = "true" }, wantErr: "--sbom: SBOM attestations are not supported yet"},
		{name: "sbom=false is fine", opts: func(o *buildOptions) { o.sbom = "false" }},
		{name: "attest type=sbom", opts: func(o *buildOptions) { o.attests = []string{"type=sbom"} }, wantErr: "SBOM attestations are not supported yet"},
		{name: "provenance mode=max", opts: func(o *buildOptions) { o.provenance = "mode=max" }, check: func(t *testing.T, p *buildFlags, _ *buildOptions) {
			if p.provenance == nil || p.provenance.Mode != "max" {
				t.Errorf("provenance %+v", p.provenance)
			}
		}},
		{name: "provenance=false writes none", opts: func(o *buildOptions) { o.provenance = "false" }, check: func(t *testing.T, p *buildFlags, _ *buildOptions) {
			if p.provenance != nil {
				t.Errorf("provenance %+v", p.provenance)
			}
		}},
		{name: "provenance with a bad mode", opts: func(o *buildOptions) { o.provenance = "mode=fast" }, wantErr: `invalid mode "fast"`},
		{name: "cgroup-parent", opts: func(o *buildOptions) { o.cgroupParent = "x" }, wantErr: "--cgroup-parent: not supported"},
		{name: "resource", opts: func(o *buildOptions) { o.resources = []string{"memory=2g"} }, wantErr: "--resource: not supported"},
		{name: "policy", opts: func(o *buildOptions) { o.policy = []string{"filename=p.rego"} }, wantErr: "--policy: build policies are not supported yet"},
		{name: "legacy --memory", opts: func(o *buildOptions) { m := "1g"; o.legacy = map[string]*string{"memory": &m} }, wantErr: "--memory: not supported"},
		{name: "add-host, ulimit, shm-size", opts: func(o *buildOptions) {
			o.addHosts, o.ulimits, o.shmSize = []string{"db:10.0.0.2"}, []string{"nofile=10:20"}, "1m"
		}, check: func(t *testing.T, p *buildFlags, _ *buildOptions) {
			want := builder.RunLimits{ExtraHosts: []builder.Host{{Name: "db", IP: "10.0.0.2"}},
				Ulimits: []builder.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}}, ShmSize: 1 << 20}
			if !reflect.DeepEqual(p.limits, want) {
				t.Errorf("limits %+v, want %+v", p.limits, want)
			}
		}},
		{name: "bad add-host", opts: func(o *buildOptions) { o.addHosts = []string{"db"} }, wantErr: `--add-host "db"`},
		{name: "allow", opts: func(o *buildOptions) { o.allow = []string{"security.insecure"} }, check: func(t *testing.T, p *buildFlags, _ *buildOptions) {
			if !p.allow.SecurityInsecure || p.allow.NetworkHost {
				t.Errorf("allow %+v, want security.insecure only", p.allow)
			}
		}},
		{name: "bad allow", opts: func(o *buildOptions) { o.allow = []string{"root"} }, wantErr: "--allow \"root\": unknown entitlement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &buildOptions{audit: "fail", network: "default", progress: "plain", buildxFlags: buildxFlags{call: "build"}} // the flags' defaults
			tt.opts(o)
			p, err := o.validate(io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, p, o)
			}
		})
	}
}

func wantMap(get func(*buildFlags) map[string]string, want map[string]string) func(*testing.T, *buildFlags, *buildOptions) {
	return func(t *testing.T, p *buildFlags, _ *buildOptions) {
		if got := get(p); !maps.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func wantOutput(typ string, push bool) func(*testing.T, *buildFlags, *buildOptions) {
	return func(t *testing.T, p *buildFlags, _ *buildOptions) {
		if len(p.outs) != 1 || p.outs[0].Type != typ || p.outs[0].Push != push {
			t.Errorf("outputs %+v, want one type=%s push=%v", p.outs, typ, push)
		}
	}
}

// wantOutputs checks the outputs' types, in order ("image push" is a pushed image output,
// "docker load" a docker output without dest).
func wantOutputs(want ...string) func(*testing.T, *buildFlags, *buildOptions) {
	return func(t *testing.T, p *buildFlags, _ *buildOptions) {
		var got []string
		for _, o := range p.outs {
			s := o.Type
			if o.Push {
				s += " push"
			}
			if o.Load() {
				s += " load"
			}
			got = append(got, s)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("outputs %q, want %q", got, want)
		}
	}
}
