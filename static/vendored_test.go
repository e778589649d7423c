package static_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/static"
)

// vendoredEntry is one "## name" section of VENDORED.md.
type vendoredEntry struct {
	name, file, version, sum, licence string
}

var (
	sectionRE = regexp.MustCompile(`(?m)^## (.+)$`)
	fileRE    = regexp.MustCompile("(?m)^- File: `([^`]+)`")
	versionRE = regexp.MustCompile(`(?m)^- Version: (\S+)`)
	sumRE     = regexp.MustCompile("(?m)^- SHA-256: `([0-9a-f]{64})`")
	licenceRE = regexp.MustCompile("(?m)^- Licence: [^`\n]*`([^`\n]+)`")
)

func readVendored(t *testing.T) []vendoredEntry {
	t.Helper()
	src, err := os.ReadFile("VENDORED.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	starts := sectionRE.FindAllStringSubmatchIndex(text, -1)
	var out []vendoredEntry
	for i, m := range starts {
		end := len(text)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		section := text[m[0]:end]
		e := vendoredEntry{name: text[m[2]:m[3]]}
		for _, f := range []struct {
			re  *regexp.Regexp
			dst *string
		}{{fileRE, &e.file}, {versionRE, &e.version}, {sumRE, &e.sum}, {licenceRE, &e.licence}} {
			if sm := f.re.FindStringSubmatch(section); sm != nil {
				*f.dst = sm[1]
			}
		}
		out = append(out, e)
	}
	return out
}

// TestVendoredFilesMatchTheirChecksums: every file VENDORED.md lists is
// the one it names (same SHA-256), is served (embedded), has its licence
// beside it and a version; htmx is among them.
func TestVendoredFilesMatchTheirChecksums(t *testing.T) {
	entries := readVendored(t)
	seen := map[string]bool{}
	for _, e := range entries {
		t.Run(e.name, func(t *testing.T) {
			if e.file == "" || e.version == "" || e.sum == "" || e.licence == "" {
				t.Fatalf("VENDORED.md section %q needs File, Version, SHA-256 and Licence lines: %+v", e.name, e)
			}
			seen[e.file] = true
			body, err := fs.ReadFile(static.FS, e.file)
			if err != nil {
				t.Fatalf("%s is not embedded: %v", e.file, err)
			}
			sum := sha256.Sum256(body)
			if got := hex.EncodeToString(sum[:]); got != e.sum {
				t.Errorf("%s: sha256 %s, VENDORED.md says %s: update the file deliberately and write its new sum and version", e.file, got, e.sum)
			}
			if _, err := os.Stat(e.licence); err != nil {
				t.Errorf("licence of %s: %v", e.file, err)
			}
		})
	}
	if !seen["js/htmx.min.js"] {
		t.Errorf("VENDORED.md does not list js/htmx.min.js (sections: %+v)", entries)
	}
}

// TestVendoredHtmxIsTheStatedVersion: the file's own version string is
// the one VENDORED.md states.
func TestVendoredHtmxIsTheStatedVersion(t *testing.T) {
	for _, e := range readVendored(t) {
		if e.file != "js/htmx.min.js" {
			continue
		}
		body, err := fs.ReadFile(static.FS, e.file)
		if err != nil {
			t.Fatal(err)
		}
		if want := `version:"` + e.version + `"`; !strings.Contains(string(body), want) {
			t.Errorf("js/htmx.min.js lacks %s", want)
		}
		return
	}
	t.Fatal("VENDORED.md does not list js/htmx.min.js")
}
