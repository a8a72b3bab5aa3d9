package codeship

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"
)

// Vars are the build's variables: image_tag templates see them by these names (Jet's),
// and step containers get them as CI_* environment variables.
type Vars struct {
	ProjectID         string
	BuildID           string
	RepoName          string
	Branch            string
	CommitID          string
	CommitMessage     string
	CommitDescription string
	CommitterName     string
	CommitterEmail    string
	CommitterUsername string
	Time              time.Time
	// Set per step when rendering.
	StepName    string
	ServiceName string
	ImageName   string
}

// templateData is what an image_tag template sees.
type templateData struct {
	Vars
	Timestamp  string
	StringTime string
	Ci         string
	CiName     string
}

// StringTime is how the build time reads in CI_STRING_TIME and {{.StringTime}}.
func (v Vars) StringTime() string { return v.Time.UTC().Format("2006-01-02T15:04:05Z") }

// Env is the standard CI environment of a step container, as Codeship documented it.
func (v Vars) Env() []string {
	return []string{
		"CI=true", "CI_NAME=codeship",
		"CI_PROJECT_ID=" + v.ProjectID, "CI_BUILD_ID=" + v.BuildID, "CI_REPO_NAME=" + v.RepoName,
		"CI_BRANCH=" + v.Branch, "CI_COMMIT_ID=" + v.CommitID, "CI_COMMIT_MESSAGE=" + v.CommitMessage,
		"CI_COMMIT_DESCRIPTION=" + v.CommitDescription, "CI_COMMITTER_NAME=" + v.CommitterName,
		"CI_COMMITTER_EMAIL=" + v.CommitterEmail, "CI_COMMITTER_USERNAME=" + v.CommitterUsername,
		"CI_TIMESTAMP=" + fmt.Sprint(v.Time.Unix()), "CI_STRING_TIME=" + v.StringTime(),
	}
}

// ImageTagFor renders a push step's image_tag with the build's variables and strips what a
// Docker tag cannot hold, as Jet did ("" renders as latest). A template that does not
// parse or run is an error naming the step's file:line.
func (st *Step) ImageTagFor(v Vars) (string, error) {
	if st.ImageTag == "" {
		return "latest", nil
	}
	t, err := template.New("image_tag").Option("missingkey=error").Parse(st.ImageTag)
	if err != nil {
		return "", &Error{File: st.File, Line: st.Line, Msg: fmt.Sprintf("step %q: image_tag %q: %v", st.Name, st.ImageTag, err)}
	}
	v.StepName, v.ServiceName, v.ImageName = st.Name, st.Service, st.ImageName
	data := templateData{Vars: v, Timestamp: fmt.Sprint(v.Time.Unix()), StringTime: v.StringTime(), Ci: "true", CiName: "codeship"}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", &Error{File: st.File, Line: st.Line, Msg: fmt.Sprintf("step %q: image_tag %q: %v", st.Name, st.ImageTag, err)}
	}
	tag := SanitizeTag(b.String())
	if tag == "" {
		return "", &Error{File: st.File, Line: st.Line, Msg: fmt.Sprintf("step %q: image_tag %q renders to an empty tag", st.Name, st.ImageTag), empty: true}
	}
	return tag, nil
}

// SanitizeTag keeps what a Docker tag may hold ([A-Za-z0-9_.-], not starting with . or -,
// at most 128 characters).
func SanitizeTag(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return -1
	}, s)
	s = strings.TrimLeft(s, ".-")
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}
