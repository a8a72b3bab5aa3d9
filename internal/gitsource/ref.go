package gitsource

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Ref is one Git source: which repository, which revision, which part of it.
type Ref struct {
	// Remote is the URL handed to git: https://, http://, ssh://, git:// or the scp-like
	// user@host:path form. It never carries a password.
	Remote string
	// Ref is a branch, a tag, a full ref name (refs/heads/x, refs/tags/v1) or a commit SHA;
	// empty means the remote's HEAD.
	Ref string
	// Checksum, when set, is the commit (or a prefix of it) the fetched revision must be;
	// it comes from the ?checksum= or ?commit= query.
	Checksum string
	// Subdir is a clean relative directory inside the repository ("" for the whole tree).
	Subdir string
	// KeepGitDir keeps the .git directory in the fetched tree (ADD --keep-git-dir=true).
	KeepGitDir bool
}

// schemeRE matches an explicit URL scheme, as BuildKit's gitutil does.
var schemeRE = regexp.MustCompile(`^[a-zA-Z0-9]+://`)

// scpRE matches the scp-like SSH form user@host:path[?query][#fragment], as BuildKit's sshutil does.
var scpRE = regexp.MustCompile(`^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:\?(.*?))?(?:#(.*))?$`)

// Parse reads a build-context or ADD source string. ok is false, with a nil error, when s
// is not a Git source at all (a local path, a plain https URL to a file, an unsupported
// scheme); ok is true with an error when s is a Git source that is malformed.
//
// Accepted forms follow BuildKit: https://host/org/repo.git#ref:subdir (an http(s) URL is
// Git only when its path ends in .git), the query form ?ref=&tag=&branch=&subdir=,
// git@host:org/repo.git#ref, ssh://user@host:port/org/repo.git, git://host/repo and the
// deprecated github.com/org/repo.
func Parse(s string) (Ref, bool, error) {
	if strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "/") {
		return Ref{}, false, nil
	}
	var (
		remote, fragment string
		query            url.Values
	)
	switch {
	case strings.HasPrefix(s, "github.com/"):
		u, err := url.Parse("https://" + s)
		if err != nil {
			return Ref{}, true, fmt.Errorf("parsing git source %q: %w", Redact(s), urlCause(err))
		}
		remote, fragment, query = stripURL(u), u.Fragment, u.Query()
	case schemeRE.MatchString(s):
		scheme := strings.ToLower(strings.TrimSuffix(schemeRE.FindString(s), "://"))
		switch scheme {
		case "http", "https", "ssh", "git":
		default:
			return Ref{}, false, nil
		}
		u, err := url.Parse(s)
		if err != nil {
			if scheme == "http" || scheme == "https" {
				return Ref{}, false, nil
			}
			return Ref{}, true, fmt.Errorf("parsing git source %q: %w", Redact(s), urlCause(err))
		}
		if (scheme == "http" || scheme == "https") && !strings.HasSuffix(u.Path, ".git") {
			return Ref{}, false, nil
		}
		if hasPassword(s) {
			return Ref{}, true, fmt.Errorf("parsing git source %q: a password in the URL is not allowed; "+
				"pass credentials as a GIT_AUTH_TOKEN or GIT_AUTH_HEADER secret", Redact(s))
		}
		remote, fragment, query = stripURL(u), u.Fragment, u.Query()
	default:
		m := scpRE.FindStringSubmatch(s)
		if m == nil {
			return Ref{}, false, nil
		}
		q, err := url.ParseQuery(m[4])
		if err != nil {
			return Ref{}, true, fmt.Errorf("parsing query of git source %q: %w", s, err)
		}
		remote, fragment, query = m[1]+"@"+m[2]+":"+m[3], m[5], q
	}

	r := Ref{Remote: remote}
	if fragment != "" {
		ref, subdir, _ := strings.Cut(fragment, ":")
		r.Ref, r.Subdir = ref, cleanSubdir(subdir)
	}
	if err := r.applyQuery(query); err != nil {
		return Ref{}, true, fmt.Errorf("parsing git source %q: %w", Redact(s), err)
	}
	if err := validateRevision(r.Ref); err != nil {
		return Ref{}, true, fmt.Errorf("parsing git source %q: %w", Redact(s), err)
	}
	return r, true, nil
}

// stripURL is u without its query and fragment.
func stripURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.RawFragment = "", "", ""
	return c.String()
}

// cleanSubdir makes a subdirectory relative and free of "..", as BuildKit does.
func cleanSubdir(s string) string {
	return strings.TrimPrefix(path.Join("/", s), "/")
}

// applyQuery merges BuildKit's query options into r.
func (r *Ref) applyQuery(q url.Values) error {
	var tag, branch string
	for k, vs := range q {
		v, err := queryValue(k, vs)
		if err != nil {
			return err
		}
		switch k {
		case "tag":
			tag = v
		case "branch":
			branch = v
		default:
			if err := r.applyOption(k, v); err != nil {
				return err
			}
		}
	}
	if tag != "" && branch != "" {
		return errors.New("branch conflicts with tag")
	}
	if tag != "" {
		return r.setRef(tag, "refs/tags/")
	}
	if branch != "" {
		return r.setRef(branch, "refs/heads/")
	}
	return nil
}

// queryValue is the one value of query option k; the flags may be given bare, as true.
func queryValue(k string, vs []string) (string, error) {
	if len(vs) > 1 {
		return "", fmt.Errorf("query %q has multiple values", k)
	}
	v := ""
	if len(vs) == 1 {
		v = vs[0]
	}
	if v == "" {
		switch k {
		case "keep-git-dir", "submodules", "fetch-by-commit":
			return "true", nil
		default:
			return "", fmt.Errorf("query %q has no value", k)
		}
	}
	return v, nil
}

// applyOption applies one query option other than tag and branch.
func (r *Ref) applyOption(k, v string) error {
	switch k {
	case "ref":
		if r.Ref != "" && r.Ref != v {
			return fmt.Errorf("ref conflicts: %q vs %q", r.Ref, v)
		}
		r.Ref = v
	case "subdir":
		v = cleanSubdir(v)
		if r.Subdir != "" && r.Subdir != v {
			return fmt.Errorf("subdir conflicts: %q vs %q", r.Subdir, v)
		}
		r.Subdir = v
	case "checksum", "commit":
		r.Checksum = v
	case "keep-git-dir":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("invalid keep-git-dir value: %q", v)
		}
		r.KeepGitDir = b
	case "submodules":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("invalid submodules value: %q", v)
		}
		if b {
			return errors.New("submodules=true is not supported")
		}
	case "fetch-by-commit":
		// An optimisation hint in BuildKit; hush fetches a commit directly anyway.
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("invalid fetch-by-commit value: %q", v)
		}
	case "mtime":
		return checkMtime(v)
	default:
		return fmt.Errorf("unexpected query %q", k)
	}
	return nil
}

func checkMtime(v string) error {
	switch v {
	case "checkout":
		return nil
	case "commit":
		return errors.New("mtime=commit is not supported")
	}
	return fmt.Errorf("invalid mtime value: %q (must be \"checkout\" or \"commit\")", v)
}

// setRef sets r.Ref to name under prefix (a tag or a branch), unless a ref= names another.
func (r *Ref) setRef(name, prefix string) error {
	if !strings.HasPrefix(name, prefix) {
		name = prefix + name
	}
	if r.Ref != "" && r.Ref != name {
		return fmt.Errorf("ref conflicts: %q vs %q", r.Ref, name)
	}
	r.Ref = name
	return nil
}

// validateRevision rejects revisions git could read as an option or a refspec.
func validateRevision(rev string) error {
	if rev == "" {
		return nil
	}
	if strings.HasPrefix(rev, "-") || strings.HasPrefix(rev, "+") || strings.Contains(rev, "..") ||
		strings.ContainsAny(rev, ": ~^?*[\\") {
		return fmt.Errorf("invalid git revision %q", rev)
	}
	for _, c := range rev {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("invalid git revision %q", rev)
		}
	}
	return nil
}

// Host is the remote's host (with its port, if any), used to name per-host auth secrets.
func (r Ref) Host() string { return hostOf(r.Remote) }

// hostOf returns the host[:port] of a URL or scp-like remote, or "" when there is none.
func hostOf(remote string) string {
	if schemeRE.MatchString(remote) {
		u, err := url.Parse(remote)
		if err != nil {
			return ""
		}
		return u.Host
	}
	if m := scpRE.FindStringSubmatch(remote); m != nil {
		return m[2]
	}
	return ""
}

// schemeOf returns the lower-case scheme of a remote; the scp-like form is "ssh".
func schemeOf(remote string) string {
	if s := schemeRE.FindString(remote); s != "" {
		return strings.ToLower(strings.TrimSuffix(s, "://"))
	}
	if scpRE.MatchString(remote) {
		return "ssh"
	}
	return ""
}

// Redact returns remote with any URL userinfo removed, for errors and logs.
// The scp-like user@ form keeps its user name, which is not a credential.
func Redact(remote string) string {
	if !schemeRE.MatchString(remote) {
		return remote
	}
	u, err := url.Parse(remote)
	if err != nil {
		// Unparseable: drop everything between "://" and the last "@" before the path.
		scheme, rest, _ := strings.Cut(remote, "://")
		hostEnd := strings.IndexAny(rest, "/?#")
		if hostEnd < 0 {
			hostEnd = len(rest)
		}
		if at := strings.LastIndex(rest[:hostEnd], "@"); at >= 0 {
			rest = rest[at+1:]
		}
		return scheme + "://" + rest
	}
	u.User = nil
	return u.String()
}

// hasPassword reports whether a URL remote carries a password in its userinfo.
func hasPassword(remote string) bool {
	if !schemeRE.MatchString(remote) {
		return false
	}
	u, err := url.Parse(remote)
	if err != nil {
		return strings.Contains(remote, "@")
	}
	_, ok := u.User.Password()
	return ok
}

// urlCause is the cause inside a *url.Error, whose own message would repeat the raw URL.
func urlCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
