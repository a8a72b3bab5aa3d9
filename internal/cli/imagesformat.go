package cli

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"github.com/hush-build/hush/internal/dockerfmt"
)

// imageSummary is one stored image as docker's API lists it.
type imageSummary struct {
	ID                    string
	RepoTags, RepoDigests []string // familiar names
	Created               int64    // Unix seconds
	Size                  int64    // its layers' files, docker's size
	Labels                map[string]string
}

func (s imageSummary) dangling() bool { return len(s.RepoTags) == 0 }

// Docker's image table formats.
const (
	imageTableFormat       = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
	imageTableFormatDigest = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)

// imageFormat is docker's NewImageFormat: the table, quiet or raw format a --format
// value stands for.
func imageFormat(source string, quiet, digest bool) dockerfmt.Format {
	if source == dockerfmt.TableFormatKey {
		switch {
		case quiet:
			return dockerfmt.DefaultQuietFormat
		case digest:
			return imageTableFormatDigest
		}
		return imageTableFormat
	}
	f := dockerfmt.Format(source)
	if f.IsTable() && digest && !f.Contains("{{.Digest}}") {
		f += "\t{{.Digest}}"
	}
	return f
}

// imageRows are docker's rows of images: one per repository:tag (per digest too with
// --digests), one <none>:<none> row for a dangling image; repositories in name order.
func imageRows(sums []imageSummary, trunc, digests bool, f dockerfmt.Format) []dockerfmt.Row {
	needDigest := digests || f.Contains("{{.Digest}}")
	var rows []dockerfmt.Row
	add := func(s imageSummary, repo, tag, digest string) {
		rows = append(rows, &imageRow{s: s, trunc: trunc, repo: repo, tag: tag, digest: digest})
	}
	for _, s := range sums {
		if s.dangling() && len(s.RepoDigests) == 0 {
			add(s, "<none>", "<none>", "<none>")
			continue
		}
		tags, dgsts := byRepo(s.RepoTags, ":"), byRepo(s.RepoDigests, "@")
		for _, repo := range sortedRepos(tags) {
			ds := dgsts[repo]
			delete(dgsts, repo)
			if !needDigest || len(ds) == 0 {
				ds = []string{"<none>"}
			}
			for _, tag := range tags[repo] {
				for _, d := range ds {
					add(s, repo, tag, d)
				}
			}
		}
		for _, repo := range sortedRepos(dgsts) {
			if !digests {
				add(s, repo, "<none>", "")
				continue
			}
			for _, d := range dgsts[repo] {
				add(s, repo, "<none>", d)
			}
		}
	}
	return rows
}

// byRepo groups familiar names by repository: the tags (sep ":") or digests (sep "@").
func byRepo(names []string, sep string) map[string][]string {
	out := map[string][]string{}
	for _, n := range names {
		i := strings.LastIndex(n, sep)
		if i < 0 || (sep == ":" && i < strings.LastIndex(n, "/")) {
			continue
		}
		out[n[:i]] = append(out[n[:i]], n[i+1:])
	}
	return out
}

func sortedRepos(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// imageRow is one row of docker images: the fields its templates offer.
type imageRow struct {
	s                 imageSummary
	trunc             bool
	repo, tag, digest string
}

func (r *imageRow) Header() map[string]string {
	return map[string]string{"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
		"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
		"SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}
}

// MarshalJSON is {{json .}}: every field by name, as docker marshals a row.
func (r *imageRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"ID": r.ID(), "Repository": r.repo, "Tag": r.tag, "Digest": r.digest,
		"CreatedSince": r.CreatedSince(), "CreatedAt": r.CreatedAt(), "Size": r.Size(), "Containers": r.Containers(),
		"SharedSize": r.SharedSize(), "UniqueSize": r.UniqueSize()})
}

func (r *imageRow) ID() string {
	if r.trunc {
		return dockerfmt.TruncateID(r.s.ID)
	}
	return r.s.ID
}

func (r *imageRow) Repository() string { return r.repo }
func (r *imageRow) Tag() string        { return r.tag }
func (r *imageRow) Digest() string     { return r.digest }

func (r *imageRow) CreatedSince() string {
	at := time.Unix(r.s.Created, 0)
	if at.IsZero() {
		return ""
	}
	return units.HumanDuration(time.Now().UTC().Sub(at)) + " ago"
}

func (r *imageRow) CreatedAt() string  { return time.Unix(r.s.Created, 0).String() }
func (r *imageRow) Size() string       { return units.HumanSizeWithPrecision(float64(r.s.Size), 3) }
func (r *imageRow) Containers() string { return "N/A" }
func (r *imageRow) SharedSize() string { return "N/A" }
func (r *imageRow) UniqueSize() string { return "N/A" }

// formatSize is docker's: human size, or bytes.
func formatSize(n int64, human bool) string {
	if human {
		return units.HumanSizeWithPrecision(float64(n), 3)
	}
	return strconv.FormatInt(n, 10)
}
