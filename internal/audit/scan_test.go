package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

const canary = "hush-canary-Zq8!x/7+Yw"

// filler returns n bytes of text that contains no canary form.
func filler(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	const alpha = "abcdefghijklmnopqrstuvwxyz      \n0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[r.IntN(len(alpha))]
	}
	return b
}

func embed(n, at int, v []byte) []byte {
	b := filler(n, uint64(at))
	copy(b[at:], v)
	return b
}

// b64Embedded is base64 of a random blob with the canary at byte offset at.
func b64Embedded(at int) []byte {
	blob := filler(300, 99)
	for i := range blob {
		blob[i] ^= byte(i * 31) // binary-ish
	}
	copy(blob[at:], canary)
	return []byte(base64.StdEncoding.EncodeToString(blob))
}

func TestScanLocations(t *testing.T) {
	plain := layerOf(t, "gzip", file{name: "etc/clean", content: filler(5000, 1)})
	type want struct {
		kind, path, field, encoding string
		offset                      int64
		deleted, header             bool
		history                     int
	}
	cases := []struct {
		name  string
		img   func(t *testing.T) v1.Image
		bufSz int
		want  want
	}{{
		name: "gzip layer",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil, plain, layerOf(t, "gzip", file{name: "etc/app.conf", content: embed(4000, 1234, []byte(canary))}))
		},
		want: want{kind: KindLayer, path: "/etc/app.conf", offset: 1234, encoding: "raw"},
	}, {
		name: "zstd layer",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil, plain, layerOf(t, "zstd", file{name: "a/b", content: embed(9000, 8000, []byte(canary))}))
		},
		want: want{kind: KindLayer, path: "/a/b", offset: 8000, encoding: "raw"},
	}, {
		name: "uncompressed layer",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil, layerOf(t, "none", file{name: "x", content: embed(600, 0, []byte(canary))}))
		},
		want: want{kind: KindLayer, path: "/x", offset: 0, encoding: "raw"},
	}, {
		name: "only in a deleted file",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil,
				layerOf(t, "gzip", file{name: "tmp/token", content: []byte(canary + "\n")}),
				layerOf(t, "gzip", file{name: "tmp/.wh.token"}))
		},
		want: want{kind: KindLayer, path: "/tmp/token", encoding: "raw", deleted: true},
	}, {
		name: "only in a directory removed by an opaque whiteout",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil,
				layerOf(t, "zstd", file{name: "srv/keys/k", content: []byte("x" + canary)}),
				layerOf(t, "gzip", file{name: "srv/.wh..wh..opq"}))
		},
		want: want{kind: KindLayer, path: "/srv/keys/k", offset: 1, encoding: "raw", deleted: true},
	}, {
		name: "in a file name",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil, layerOf(t, "gzip", file{name: "cache/" + canary, content: []byte("x")}))
		},
		want: want{kind: KindLayer, path: "/cache/" + canary, offset: 6, encoding: "raw", header: true},
	}, {
		name: "in a symlink target",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil, layerOf(t, "gzip", file{name: "l", link: "/x/" + canary}))
		},
		want: want{kind: KindLayer, path: "/l", offset: 160, encoding: "raw", header: true},
	}, {
		name: "only in config Env",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, func(c *v1.ConfigFile) { c.Config.Env = []string{"PATH=/bin", "TOKEN=" + canary} }, plain)
		},
		want: want{kind: KindConfig, field: "config.Env[1]", offset: 6, encoding: "raw"},
	}, {
		name: "only in a label",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, func(c *v1.ConfigFile) { c.Config.Labels = map[string]string{"org.example.k": "v=" + canary} }, plain)
		},
		want: want{kind: KindConfig, field: `config.Labels["org.example.k"]`, offset: 2, encoding: "raw"},
	}, {
		name: "only in Cmd, JSON-escaped",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, func(c *v1.ConfigFile) {
				c.Config.Cmd = []string{"sh", "-c", `echo "` + string(jsonEscape([]byte(canary), false)) + `"`}
			}, plain)
		},
		want: want{kind: KindConfig, field: "config.Cmd[2]", offset: 6, encoding: "raw"},
	}, {
		name: "only in history",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, func(c *v1.ConfigFile) {
				c.History = []v1.History{{CreatedBy: "FROM scratch"}, {CreatedBy: "RUN echo " + canary + " > /dev/null", EmptyLayer: true}}
			}, plain)
		},
		want: want{kind: KindHistory, field: "created_by", offset: 9, encoding: "raw", history: 1},
	}, {
		name: "only in a manifest annotation",
		img: func(t *testing.T) v1.Image {
			return mutate.Annotations(imageOf(t, nil, plain), map[string]string{"org.example.token": canary}).(v1.Image)
		},
		want: want{kind: KindManifest, field: `annotations["org.example.token"]`, encoding: "raw"},
	}, {
		name: "base64-embedded at offset 1",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil, layerOf(t, "gzip", file{name: "blob.b64", content: b64Embedded(1)}))
		},
		want: want{kind: KindLayer, path: "/blob.b64", offset: 2, encoding: "base64-core1"},
	}, {
		name: "base64-embedded at offset 2",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil, layerOf(t, "gzip", file{name: "blob.b64", content: b64Embedded(2)}))
		},
		want: want{kind: KindLayer, path: "/blob.b64", offset: 3, encoding: "base64-core2"},
	}, {
		name: "base64-embedded at offset 3",
		img: func(t *testing.T) v1.Image {
			return imageOf(t, nil, layerOf(t, "gzip", file{name: "blob.b64", content: b64Embedded(3)}))
		},
		want: want{kind: KindLayer, path: "/blob.b64", offset: 4, encoding: "base64-core0"},
	}, {
		name:  "spanning a 64 KiB read boundary",
		bufSz: 64 << 10,
		img: func(t *testing.T) v1.Image {
			// The file's content starts after one 512-byte header.
			return imageOf(t, nil, layerOf(t, "gzip", file{name: "big", content: embed(200<<10, 64<<10-512-7, []byte(canary))}))
		},
		want: want{kind: KindLayer, path: "/big", offset: 64<<10 - 512 - 7, encoding: "raw"},
	}, {
		name: "hex in a file larger than 50 MiB",
		img: func(t *testing.T) v1.Image {
			big := make([]byte, 60<<20)
			copy(big[len(big)-100:], hex.EncodeToString([]byte(canary)))
			return imageOf(t, nil, layerOf(t, "zstd", file{name: "var/big.bin", content: big}))
		},
		want: want{kind: KindLayer, path: "/var/big.bin", offset: 60<<20 - 100, encoding: "hex"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := scan(t, tc.img(t), map[string][]byte{"tok": []byte(canary)}, Options{bufSize: tc.bufSz})
			if len(r.Findings) != 1 {
				t.Fatalf("want 1 finding, got %d: %+v", len(r.Findings), r.Findings)
			}
			f := r.Findings[0]
			l := f.Location
			got := want{kind: l.Kind, path: l.Path, field: l.Field, encoding: f.Encoding, offset: l.Offset,
				deleted: l.Deleted, header: l.Header}
			if l.History != nil {
				got.history = *l.History
			}
			if got != tc.want {
				t.Errorf("finding\n got %+v\nwant %+v", got, tc.want)
			}
			if f.Secret != "tok" || !strings.HasPrefix(f.Fingerprint, "hmac-sha256:") {
				t.Errorf("finding names %q with fingerprint %q", f.Secret, f.Fingerprint)
			}
			if l.Kind == KindLayer && !strings.HasPrefix(l.Layer, "sha256:") {
				t.Errorf("layer digest %q", l.Layer)
			}
		})
	}
}

// TestScanEveryEncoding plants each form of Forms in a layer and in config Env.
func TestScanEveryEncoding(t *testing.T) {
	secret := []byte("p@ss word/\"quoted\"+&<tag>\n")
	names := map[string]bool{}
	for _, e := range matchEncodings(secret) {
		names[e.Name] = true
	}
	for _, form := range Forms(secret) {
		t.Run(form.Name, func(t *testing.T) {
			content := append(append([]byte("<<"), form.Bytes...), ">>"...)
			img := imageOf(t, func(c *v1.ConfigFile) { c.Config.Env = []string{"X=" + string(content)} },
				layerOf(t, "gzip", file{name: "f", content: content}))
			r := scan(t, img, map[string][]byte{"s": secret}, Options{})
			kinds := map[string]bool{}
			for _, f := range r.Findings {
				kinds[f.Location.Kind] = true
				if !names[f.Encoding] {
					t.Errorf("finding with encoding %q, not one of the matched forms", f.Encoding)
				}
			}
			if !kinds[KindLayer] || !kinds[KindConfig] {
				t.Errorf("form %s: found in %v, want layer and config", form.Name, kinds)
			}
		})
	}
}

func TestScanClean(t *testing.T) {
	rimg, err := random.Image(1<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	near := canary[:len(canary)-1]
	cases := []struct {
		name   string
		img    v1.Image
		detect bool
	}{
		{"random layers", rimg, true},
		{"near misses", imageOf(t, func(c *v1.ConfigFile) { c.Config.Env = []string{"T=" + near} },
			layerOf(t, "gzip", file{name: "a", content: []byte(near + " " + hex.EncodeToString([]byte(near)))}),
			layerOf(t, "zstd", file{name: "b", content: []byte(base64.StdEncoding.EncodeToString([]byte(near)))})), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := scan(t, tc.img, map[string][]byte{"tok": []byte(canary), "short": []byte("ab")}, Options{Detect: tc.detect})
			if r.Leaked() {
				t.Errorf("clean image: %+v", r.Findings)
			}
			if r.Stats.Layers == 0 || r.Stats.Bytes == 0 {
				t.Errorf("nothing searched: %+v", r.Stats)
			}
			if fmt.Sprint(r.Skipped) != "[short]" || fmt.Sprint(r.Secrets) != "[tok]" {
				t.Errorf("secrets %v skipped %v", r.Secrets, r.Skipped)
			}
		})
	}
}

func TestScanCounts(t *testing.T) {
	content := bytes.Repeat([]byte(canary+" "), 5)
	img := imageOf(t, nil, layerOf(t, "gzip", file{name: "a", content: content}, file{name: "b", content: content}))
	r := scan(t, img, map[string][]byte{"tok": []byte(canary), "tok2": []byte(canary)}, Options{})
	if len(r.Findings) != 4 {
		t.Fatalf("want 4 findings (2 secrets × 2 files), got %+v", r.Findings)
	}
	for _, f := range r.Findings {
		if f.Count != 5 || f.Location.Offset != 0 {
			t.Errorf("finding %+v: want count 5 at offset 0", f)
		}
	}
	if r.Findings[0].Fingerprint != r.Findings[2].Fingerprint {
		t.Errorf("same value, different fingerprints")
	}
}

// TestScanSkipsShortSecrets: values under secret.MinSearchable bytes (white space aside)
// are listed as skipped, not searched for and so not "found" in ordinary text that
// happens to hold their bytes, in an image and in a directory; the long secret next to
// them is still found.
func TestScanSkipsShortSecrets(t *testing.T) {
	text := []byte("about a cab; pin: abc. abcde, pin1\nthe end " + canary + "\n")
	secrets := map[string][]byte{"tok": []byte(canary), "three": []byte("abc"), "five": []byte("abcde"),
		"newline": []byte("pin1\n\n"), "seven": []byte("about a")}
	img := imageOf(t, func(c *v1.ConfigFile) { c.Config.Env = []string{"A=abc", "B=abcde"} },
		layerOf(t, "gzip", file{name: "etc/motd", content: text}))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "motd"), text, 0o600); err != nil {
		t.Fatal(err)
	}
	dr, err := ScanDir(context.Background(), dir, secrets, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Report{"image": scan(t, img, secrets, Options{}), "dir": dr} {
		if got := strings.Join(r.Skipped, ","); got != "five,newline,three" {
			t.Errorf("%s: skipped %q, want five,newline,three", name, got)
		}
		if got := strings.Join(r.Secrets, ","); got != "seven,tok" {
			t.Errorf("%s: searched %q, want seven,tok", name, got)
		}
		found := map[string]bool{}
		for _, f := range r.Findings {
			found[f.Secret] = true
		}
		if len(found) != 2 || !found["tok"] || !found["seven"] {
			t.Errorf("%s: findings for %v, want tok and seven only", name, found)
		}
		var text bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text.String(), "2 secret(s) (3 more too short to search for)") {
			t.Errorf("%s: text report does not count the skipped secrets:\n%s", name, text.String())
		}
	}
}
