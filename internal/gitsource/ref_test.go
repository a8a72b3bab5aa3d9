package gitsource

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Ref
		notGit  bool
		wantErr string
	}{
		// Not git sources: ok=false, no error.
		{in: "https://example.com/", notGit: true},
		{in: "https://example.com/foo", notGit: true},
		{in: "https://example.com/foo.git/", notGit: true},
		{in: "https://example.com/foo.git.bar", notGit: true},
		{in: "https://example.com/archive.tar.gz", notGit: true},
		{in: "https://github.com/moby/buildkit", notGit: true},
		{in: "http://github.com/docker/docker.git:#branch", notGit: true},
		{in: "custom.xyz/moby/buildkit.git", notGit: true},
		{in: "./.git", notGit: true},
		{in: ".git", notGit: true},
		{in: ".", notGit: true},
		{in: "../ctx", notGit: true},
		{in: "/abs/path/repo.git", notGit: true},
		{in: "ctx/dir", notGit: true},
		{in: "file:///srv/repo.git", notGit: true},
		{in: "ftp://example.com/repo.git", notGit: true},
		{in: "-", notGit: true},

		// https with fragment.
		{in: "https://example.com/foo.git", want: Ref{Remote: "https://example.com/foo.git"}},
		{in: "https://example.com/foo.git#deadbeef", want: Ref{Remote: "https://example.com/foo.git", Ref: "deadbeef"}},
		{in: "https://example.com/foo.git#release/1.2", want: Ref{Remote: "https://example.com/foo.git", Ref: "release/1.2"}},
		{in: "HTTPS://example.com/foo.git#main", want: Ref{Remote: "https://example.com/foo.git", Ref: "main"}},
		{in: "https://github.com/foo/bar.git#baz/qux:quux/quuz",
			want: Ref{Remote: "https://github.com/foo/bar.git", Ref: "baz/qux", Subdir: "quux/quuz"}},
		{in: "https://github.com/docker/docker.git#:myfolder",
			want: Ref{Remote: "https://github.com/docker/docker.git", Subdir: "myfolder"}},
		{in: "https://github.com/docker/docker.git#:../../etc/",
			want: Ref{Remote: "https://github.com/docker/docker.git", Subdir: "etc"}},
		{in: "https://host:8443/org/repo.git#v1:app", want: Ref{Remote: "https://host:8443/org/repo.git", Ref: "v1", Subdir: "app"}},
		{in: "http://127.0.0.1:8080/repo.git", want: Ref{Remote: "http://127.0.0.1:8080/repo.git"}},
		{in: "https://oauth2@github.com/moby/buildkit.git", want: Ref{Remote: "https://oauth2@github.com/moby/buildkit.git"}},

		// Query form.
		{in: "https://github.com/docker/docker.git?ref=v1.0.0&subdir=/subdir",
			want: Ref{Remote: "https://github.com/docker/docker.git", Ref: "v1.0.0", Subdir: "subdir"}},
		{in: "https://github.com/moby/buildkit.git?subdir=/subdir#v1.0.0",
			want: Ref{Remote: "https://github.com/moby/buildkit.git", Ref: "v1.0.0", Subdir: "subdir"}},
		{in: "https://github.com/moby/buildkit.git?tag=v1.0.0",
			want: Ref{Remote: "https://github.com/moby/buildkit.git", Ref: "refs/tags/v1.0.0"}},
		{in: "https://github.com/moby/buildkit.git?branch=v1.0",
			want: Ref{Remote: "https://github.com/moby/buildkit.git", Ref: "refs/heads/v1.0"}},
		{in: "https://github.com/moby/buildkit.git?branch=refs/heads/v1.0#refs/heads/v1.0",
			want: Ref{Remote: "https://github.com/moby/buildkit.git", Ref: "refs/heads/v1.0"}},
		{in: "https://github.com/moby/buildkit.git?keep-git-dir=true",
			want: Ref{Remote: "https://github.com/moby/buildkit.git", KeepGitDir: true}},
		{in: "https://github.com/moby/buildkit.git?keep-git-dir",
			want: Ref{Remote: "https://github.com/moby/buildkit.git", KeepGitDir: true}},
		{in: "https://github.com/moby/buildkit.git?checksum=deadbeef#main",
			want: Ref{Remote: "https://github.com/moby/buildkit.git", Ref: "main", Checksum: "deadbeef"}},
		{in: "https://github.com/moby/buildkit.git?fetch-by-commit&checksum=deadbeef",
			want: Ref{Remote: "https://github.com/moby/buildkit.git", Checksum: "deadbeef"}},
		{in: "https://github.com/moby/buildkit.git?mtime=checkout&submodules=false",
			want: Ref{Remote: "https://github.com/moby/buildkit.git"}},
		{in: "https://github.com/moby/buildkit.git?ref=v1.0.0#v1.2.3", wantErr: "ref conflicts"},
		{in: "https://github.com/moby/buildkit.git?ref=v1.0.0&tag=v1.2.3", wantErr: "ref conflicts"},
		{in: "https://github.com/moby/buildkit.git?tag=v1.0.0&branch=v1.0", wantErr: "branch conflicts with tag"},
		{in: "https://github.com/moby/buildkit.git?subdir=a#main:b", wantErr: "subdir conflicts"},
		{in: "https://github.com/moby/buildkit.git?invalid=123", wantErr: `unexpected query "invalid"`},
		{in: "https://github.com/moby/buildkit.git?ref=", wantErr: `query "ref" has no value`},
		{in: "https://github.com/moby/buildkit.git?ref=a&ref=b", wantErr: "multiple values"},
		{in: "https://github.com/moby/buildkit.git?mtime=invalid", wantErr: "invalid mtime value"},
		{in: "https://github.com/moby/buildkit.git?mtime=commit", wantErr: "not supported"},
		{in: "https://github.com/moby/buildkit.git?submodules=true", wantErr: "not supported"},
		{in: "https://github.com/moby/buildkit.git?keep-git-dir=maybe", wantErr: "invalid keep-git-dir"},
		{in: "https://github.com/moby/buildkit.git?fetch-by-commit=invalid", wantErr: "invalid fetch-by-commit"},

		// Revisions git could mistake for options or refspecs.
		{in: "https://example.com/foo.git#--upload-pack=sh", wantErr: "invalid git revision"},
		{in: "https://example.com/foo.git?ref=a:b", wantErr: "invalid git revision"},
		{in: "https://example.com/foo.git#+main", wantErr: "invalid git revision"},
		{in: "https://example.com/foo.git#main..dev", wantErr: "invalid git revision"},

		// Credentials in the URL are refused, and never echoed.
		{in: "https://foo:s3cr3tpw@github.com/moby/buildkit.git", wantErr: "password in the URL is not allowed"},

		// scp-like ssh.
		{in: "git@github.com:moby/buildkit", want: Ref{Remote: "git@github.com:moby/buildkit"}},
		{in: "git@github.com:moby/buildkit.git", want: Ref{Remote: "git@github.com:moby/buildkit.git"}},
		{in: "git@bitbucket.org:atlassianlabs/atlassian-docker.git",
			want: Ref{Remote: "git@bitbucket.org:atlassianlabs/atlassian-docker.git"}},
		{in: "git@github.com:moby/buildkit.git#v0.1:docs",
			want: Ref{Remote: "git@github.com:moby/buildkit.git", Ref: "v0.1", Subdir: "docs"}},
		{in: "git@github.com:moby/buildkit.git?subdir=/subdir#v1.0.0",
			want: Ref{Remote: "git@github.com:moby/buildkit.git", Ref: "v1.0.0", Subdir: "subdir"}},

		// ssh:// and git://.
		{in: "ssh://git@host:2222/org/repo.git", want: Ref{Remote: "ssh://git@host:2222/org/repo.git"}},
		{in: "ssh://git@host:2222/org/repo.git#main:app", want: Ref{Remote: "ssh://git@host:2222/org/repo.git", Ref: "main", Subdir: "app"}},
		{in: "ssh://host/org/repo", want: Ref{Remote: "ssh://host/org/repo"}},
		{in: "git://example.com/foo", want: Ref{Remote: "git://example.com/foo"}},
		{in: "git://example.com/foo.git#v2", want: Ref{Remote: "git://example.com/foo.git", Ref: "v2"}},

		// Deprecated github.com shorthand, accepted like BuildKit (as https).
		{in: "github.com/moby/buildkit", want: Ref{Remote: "https://github.com/moby/buildkit"}},
		{in: "github.com/moby/buildkit#master", want: Ref{Remote: "https://github.com/moby/buildkit", Ref: "master"}},
		{in: "github.com/moby/buildkit?tag=v1.0.0", want: Ref{Remote: "https://github.com/moby/buildkit", Ref: "refs/tags/v1.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok, err := Parse(tt.in)
			switch {
			case tt.notGit:
				if ok || err != nil {
					t.Fatalf("Parse(%q) = %+v, ok %v, err %v; want not a git source", tt.in, got, ok, err)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !ok {
					t.Fatalf("Parse(%q) = ok %v, err %v; want ok and an error containing %q", tt.in, ok, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3tpw") {
					t.Errorf("error echoes the password: %v", err)
				}
			default:
				if err != nil || !ok {
					t.Fatalf("Parse(%q) = ok %v, err %v", tt.in, ok, err)
				}
				if got != tt.want {
					t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
				}
			}
		})
	}
}

func TestHostAndRedact(t *testing.T) {
	tests := []struct{ remote, host, redacted string }{
		{"https://github.com/moby/buildkit.git", "github.com", "https://github.com/moby/buildkit.git"},
		{"https://user:pw@host:8443/r.git", "host:8443", "https://host:8443/r.git"},
		{"https://tok@host/r.git", "host", "https://host/r.git"},
		{"ssh://git@127.0.0.1:2222/r.git", "127.0.0.1:2222", "ssh://127.0.0.1:2222/r.git"},
		{"git@github.com:moby/buildkit.git", "github.com", "git@github.com:moby/buildkit.git"},
		{"git://example.com/foo", "example.com", "git://example.com/foo"},
		{"https://us er:p w@host/%zz", "", "https://host/%zz"},
		{"not a remote", "", "not a remote"},
	}
	for _, tt := range tests {
		t.Run(tt.remote, func(t *testing.T) {
			if got := (Ref{Remote: tt.remote}).Host(); got != tt.host {
				t.Errorf("Host() = %q, want %q", got, tt.host)
			}
			if got := Redact(tt.remote); got != tt.redacted {
				t.Errorf("Redact() = %q, want %q", got, tt.redacted)
			}
		})
	}
}
