// The links a message carries: logged in development (Outbox.LinkLog) and
// made clickable by the development mail viewer.

package mail

import (
	"regexp"
	"slices"
	"strings"
)

// linkPattern is an http or https URL in text; trailing punctuation is
// trimmed by LinkIndexes.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+`)

// LinkIndexes returns where each http(s) URL in text starts and ends, as
// regexp's FindAllStringIndex does. Punctuation that ends a sentence
// after a URL is not part of it.
func LinkIndexes(text string) [][]int {
	found := linkPattern.FindAllStringIndex(text, -1)
	for _, f := range found {
		for f[1] > f[0] && strings.ContainsRune(".,;:!?)]}", rune(text[f[1]-1])) {
			f[1]--
		}
	}
	return found
}

// Links returns the distinct http(s) URLs of a message's text and HTML,
// in order.
func (m Message) Links() []string {
	var out []string
	for _, text := range []string{m.Text, m.HTML} {
		for _, at := range LinkIndexes(text) {
			if l := text[at[0]:at[1]]; !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out
}
