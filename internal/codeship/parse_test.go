package codeship

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// load writes a services and a steps file into a temp dir and loads them.
func load(t *testing.T, services, steps string) (*Pipeline, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "codeship-services.yml"), []byte(services), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "codeship-steps.yml"), []byte(steps), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(Files{Dir: dir})
}

func mustLoad(t *testing.T, services, steps string) *Pipeline {
	t.Helper()
	p, err := load(t, services, steps)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const oneService = "app:\n  image: busybox\n"

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, services, steps, want string
	}{
		{"lookahead regex", oneService, "- name: deploy\n  service: app\n  command: x\n  tag: ^(?!master)\n",
			`codeship-steps.yml:4: step "deploy": tag "^(?!master)" is not a regular expression Go can run`},
		{"lookahead in exclude of unnamed", oneService, "- service: app\n  command: x\n  exclude: ^(?=a)\n",
			`codeship-steps.yml:3: step "(unnamed)": exclude`},
		{"malformed steps", oneService, "- name: a\n  service: app\n   command: x\n", "codeship-steps.yml:3: malformed YAML"},
		{"malformed services", "app:\n  image: [busybox\n", "- service: app\n  command: x\n", "codeship-services.yml:"},
		{"unknown service", oneService, "- name: t\n  service: web\n  command: x\n",
			`codeship-steps.yml:1: step "t": service "web" is not defined in codeship-services.yml (services: app)`},
		{"no command", oneService, "- name: t\n  service: app\n", `codeship-steps.yml:1: step "t": want command:`},
		{"no service", oneService, "- name: t\n  command: x\n", `codeship-steps.yml:1: step "t": want service:`},
		{"push without image_name", oneService, "- type: push\n  service: app\n", "a push step needs service: and image_name:"},
		{"unknown type", oneService, "- type: deploy\n  service: app\n  command: x\n", `unknown type "deploy"`},
		{"empty group", oneService, "- type: parallel\n  name: g\n  steps: []\n", `step "g": a parallel group needs steps:`},
		{"bad link", "app:\n  image: busybox\n  links: [db]\n", "- service: app\n  command: x\n",
			`codeship-services.yml:1: service app refers to service "db", which is not defined`},
		{"service without image", "app:\n  environment: {A: b}\n", "- service: app\n  command: x\n", "codeship-services.yml:1: service app: want build: or image:"},
		{"bad template", oneService, "- type: push\n  name: p\n  service: app\n  image_name: x\n  image_tag: \"{{.Nope}}\"\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := load(t, tc.services, tc.steps)
			if err == nil && tc.want == "" {
				_, err = p.Plan("master", false, testVars)
				tc.want = `codeship-steps.yml:1: step "p": image_tag "{{.Nope}}"`
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestUnknownKeysWarnWithLine(t *testing.T) {
	p := mustLoad(t, "app:\n  image: busybox\n  colour: blue\n  ports: [\"80:80\"]\n",
		"- service: app\n  command: x\n  retries: 3\n")
	got := map[string]bool{}
	for _, w := range p.Warnings {
		got[w.String()] = true
	}
	for _, want := range []string{
		"codeship-services.yml:3: app.colour: unknown key, ignored",
		"codeship-services.yml:4: app.ports: ignored (Codeship ignored it too)",
		"codeship-steps.yml:3: retries: unknown key, ignored",
	} {
		if !got[want] {
			t.Errorf("missing warning %q in %v", want, p.Warnings)
		}
	}
}

func TestAnchorsMergeKeysAndNumbers(t *testing.T) {
	services := `x-env: &env
  A: one
  B: two
base: &base
  build:
    path: ctx
    dockerfile_path: Dockerfile.ci
    encrypted_env_file: args.encrypted
  environment:
    <<: *env
    B: mine
  env_file: [plain.env, secret.env.encrypted]
app:
  <<: *base
  working_dir: /src
`
	steps := "- type: push\n  service: app\n  image_name: x\n  image_tag: 18.04\n  tag: 1.0\n"
	p := mustLoad(t, services, steps)
	app, _ := p.Services.Get("app")
	if app.Build == nil || app.Build.Context != "ctx" || app.Build.Dockerfile != "Dockerfile.ci" || app.WorkingDir != "/src" {
		t.Fatalf("merged service: %+v %+v", app, app.Build)
	}
	if len(app.Build.EncryptedArgsFiles) != 1 || app.Build.EncryptedArgsFiles[0] != "args.encrypted" {
		t.Errorf("build.encrypted_env_file: %v", app.Build.EncryptedArgsFiles)
	}
	env := map[string]string{}
	for _, v := range app.Environment {
		env[v.Key] = v.Value
	}
	if env["A"] != "one" || env["B"] != "mine" || len(env) != 2 {
		t.Errorf("merged environment (own keys win): %v", app.Environment)
	}
	if strings.Join(app.EnvFiles, ",") != "plain.env" || strings.Join(app.EncryptedEnvFiles, ",") != "secret.env.encrypted" {
		t.Errorf("env_file naming an encrypted file: plain %v encrypted %v", app.EnvFiles, app.EncryptedEnvFiles)
	}
	st := p.Steps[0]
	tag, err := st.ImageTagFor(testVars)
	if err != nil || tag != "18.04" || st.Tag.Text != "1.0" {
		t.Errorf("numbers as written: image_tag %q (%v), tag %q", tag, err, st.Tag.Text)
	}
	if st.Skipped("1.0") != "" || st.Skipped("1x0") == "" {
		t.Errorf("plain tag 1.0 matches only 1.0 (not as a regex)")
	}
}

func TestFilters(t *testing.T) {
	steps := `- name: both
  service: app
  command: x
  tag: ^(master|release/.*)$
  exclude: ^release/old
- name: plain
  service: app
  command: x
  tag: master
`
	p := mustLoad(t, oneService, steps)
	both, plain := p.Steps[0], p.Steps[1]
	for _, tc := range []struct {
		st   *Step
		tag  string
		want string
	}{
		{both, "master", ""}, {both, "release/1", ""}, {both, "release/old-1", "exclude"}, {both, "dev", "tag"},
		{plain, "master", ""}, {plain, "master-rebase", "tag"}, {plain, "xmaster", "tag"},
	} {
		if got := tc.st.Skipped(tc.tag); got != tc.want {
			t.Errorf("%s on %q: skipped %q, want %q", tc.st.Name, tc.tag, got, tc.want)
		}
	}
}

func TestGroupInheritance(t *testing.T) {
	services := "app:\n  image: busybox\nother:\n  image: busybox\ngen:\n  image: busybox\n"
	steps := `- type: serial
  service: app
  tag: master
  registry: quay.io
  dockercfg_service: gen
  steps:
    - type: push
      image_name: quay.io/a
    - type: push
      service: other
      registry: ghcr.io
      encrypted_dockercfg_path: cfg.encrypted
      tag: dev
      image_name: ghcr.io/b
    - type: parallel
      steps:
        - command: echo
`
	p := mustLoad(t, services, steps)
	kids := p.Steps[0].Steps
	a, b, inner := kids[0], kids[1], kids[2].Steps[0]
	if a.Service != "app" || a.Registry != "quay.io" || a.DockercfgService != "gen" || a.Tag.Text != "master" {
		t.Errorf("inherited: %+v", a)
	}
	if b.Service != "other" || b.Registry != "ghcr.io" || b.EncryptedDockercfgPath != "cfg.encrypted" || b.DockercfgService != "" || b.Tag.Text != "dev" {
		t.Errorf("own values win (and a dockercfg path wins over a service): %+v", b)
	}
	if inner.Service != "app" || inner.Tag.Text != "master" {
		t.Errorf("two levels down: %+v", inner)
	}
	pl, err := p.Plan("dev", false, testVars)
	if err != nil {
		t.Fatal(err)
	}
	if g := pl.Steps[0]; !g.Skip || g.Steps[1].SkipReason != "group" {
		t.Errorf("a skipped group skips its children, even one whose own tag matches: %+v %+v", g, g.Steps[1])
	}
}

func TestGroupServices(t *testing.T) {
	services := "a:\n  image: busybox\nb:\n  image: busybox\n"
	steps := `- type: parallel
  services: [a, b]
  steps:
    - command: one
    - command: two
- type: serial
  services: [a, b]
  steps:
    - command: three
`
	p := mustLoad(t, services, steps)
	par, ser := p.Steps[0], p.Steps[1]
	if len(par.Steps) != 2 || par.Steps[0].Type != TypeSerial || par.Steps[1].Steps[1].Service != "b" || par.Steps[1].Steps[1].Command != "two" {
		t.Errorf("parallel with services: a serial group per service: %+v", par.Steps)
	}
	if len(ser.Steps) != 2 || ser.Steps[0].Service != "a" || ser.Steps[1].Service != "b" || ser.Steps[1].Command != "three" {
		t.Errorf("serial with services: the steps for each service in turn: %+v", ser.Steps)
	}
}

func TestServicesShapes(t *testing.T) {
	compose := `version: "2"
services:
  web:
    build:
      context: app
      dockerfile: Dockerfile.web
      args: [A=1, B]
      secrets: [npm, {source: gh, target: GH_TOKEN}]
    entrypoint: ["/bin/sh", "-c"]
    command: echo hi
    links: ["db:database"]
    depends_on: {cache: {condition: service_started}}
    volumes: ["./out:/out:ro", "/anon", "data:/data"]
    volumes_from: ["service:db:ro"]
  db: {image: postgres}
  cache: {image: redis}
secrets:
  npm: {file: ./npmrc}
  gh: {environment: GH_TOKEN}
`
	p := mustLoad(t, compose, "- service: web\n  command: x\n")
	web, _ := p.Services.Get("web")
	b := web.Build
	if b.Context != "app" || b.Dockerfile != "Dockerfile.web" || len(b.Args) != 2 || !b.Args[1].Unset || b.Args[0].Value != "1" {
		t.Errorf("build: %+v", b)
	}
	if len(b.Secrets) != 2 || b.Secrets[1] != (BuildSecret{Source: "gh", Target: "GH_TOKEN"}) || p.Services.Secrets["gh"].Environment != "GH_TOKEN" {
		t.Errorf("build secrets: %+v %+v", b.Secrets, p.Services.Secrets)
	}
	if web.Entrypoint.Args == nil || web.Command.Text != "echo hi" || web.Links[0] != (Link{"db", "database"}) || web.DependsOn[0] != "cache" {
		t.Errorf("service: %+v", web)
	}
	if v := web.Volumes; len(v) != 3 || !v[0].ReadOnly || v[0].Host != "./out" || v[1].Host != "" || !v[2].Named || web.VolumesFrom[0] != "db" {
		t.Errorf("volumes: %+v %v", web.Volumes, web.VolumesFrom)
	}
	ctx, df := p.BuildPaths(web)
	if ctx != filepath.Join(p.Dir, "app") || df != filepath.Join(p.Dir, "app", "Dockerfile.web") {
		t.Errorf("build paths: %s %s", ctx, df)
	}
	if got := p.Needed("master", false); strings.Join(got, ",") != "web,db,cache" {
		t.Errorf("needed: %v", got)
	}
}

func TestStepExtras(t *testing.T) {
	p := mustLoad(t, oneService, "- service: app\n  command: x\n  encrypted_env_file: step.env.encrypted\n  volumes: [./a:/a]\n")
	st := p.Steps[0]
	if len(st.EncryptedEnvFiles) != 1 || len(st.Volumes) != 1 || st.Volumes[0].Host != "./a" {
		t.Errorf("step encrypted_env_file and volumes: %+v", st)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("no warnings for keys Jet accepted on a step: %v", p.Warnings)
	}
}

func TestImageTagTemplate(t *testing.T) {
	st := &Step{Name: "p", Service: "app", ImageName: "x/app", File: "f", Line: 1,
		ImageTag: `{{.ServiceName}}.{{.Branch}}/{{printf "%.7s" .CommitID}}:{{.Timestamp}} {{.StepName}}`}
	got, err := st.ImageTagFor(Vars{Branch: "feature/x", CommitID: "abcdef0123", Time: testVars.Time})
	if err != nil || got != "app.featurex"+"abcdef0"+"1714564800p" {
		t.Errorf("rendered %q, %v", got, err)
	}
}
