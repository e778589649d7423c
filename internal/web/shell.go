// The template functions of the app shell and its partials
// (templates/layouts/partials.html, nav.html): icons, the navigation's
// current link, confirmations, empty states and form fields.

package web

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"strings"
	"text/template/parse"
	"unicode"
	"unicode/utf8"

	"github.com/launchkit/launchkit/internal/users"
)

// funcs is the FuncMap every page is parsed with.
func (t *templateSet) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":      t.assets.url,
		"icon":       t.icon,
		"navCurrent": navCurrent,
		"confirm":    confirm,
		"empty":      empty,
		"fieldError": fieldError,
		"problem":    problem,
		"fieldAria":  fieldAria,
		"initials":   initials,
		"userAvatar": userAvatar,
	}
}

// icon is the svg of the sprite's symbol i-NAME (static/icons.svg),
// decorative: {{icon "trash"}}, or the "icon" partial. The markup of each
// name is built once (on each use in development, where the sprite's
// hash follows the file on disk).
func (t *templateSet) icon(name string) (template.HTML, error) {
	if v, ok := t.icons.Load(name); ok && !t.fromDisk {
		return v.(template.HTML), nil
	}
	if name == "" || strings.TrimFunc(name, func(r rune) bool { return r == '-' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') }) != "" {
		return "", fmt.Errorf("icon %q: a name is lower-case letters, digits and dashes", name)
	}
	sprite, err := t.assets.url("icons.svg")
	if err != nil {
		return "", err
	}
	svg, err := fs.ReadFile(t.static, "icons.svg")
	if err != nil {
		return "", err
	}
	if !bytes.Contains(svg, []byte(`<symbol id="i-`+name+`"`)) {
		return "", fmt.Errorf("icon %q: static/icons.svg has no symbol i-%s", name, name)
	}
	h := template.HTML(`<svg class="icon" aria-hidden="true" focusable="false"><use href="` + sprite + `#i-` + name + `"/></svg>`)
	t.icons.Store(name, h)
	return h, nil
}

// inlineShell replaces, when the templates are parsed, each
// {{template "icon" "name"}} by the icon's markup and each
// {{navCurrent "/path"}} by its marker, as plain text: the shell has some
// twenty of them, and each call costs html/template's function call and
// escaper, about ten allocations, on every render. (Like assets.inline;
// other uses are left to the partial and the function.)
//
// Then each {{template "name" …}} whose template has become text alone
// (the logo, the theme toggle) is replaced by that text.
func (t *templateSet) inlineShell(tmpl *template.Template) error {
	_, err := rewriteText(tmpl, func(n parse.Node) ([]byte, bool, error) {
		switch n := n.(type) {
		case *parse.TemplateNode:
			if name, ok := literalArg(n.Pipe); ok && n.Name == "icon" {
				h, err := t.icon(name)
				return []byte(h), err == nil, err
			}
		case *parse.ActionNode:
			if fn, prefix, ok := literalCall(n.Pipe); ok && fn == "navCurrent" {
				return []byte(navCurrent(prefix)), true, nil
			}
		}
		return nil, false, nil
	})
	for changed := err == nil; changed; {
		changed, err = rewriteText(tmpl, func(n parse.Node) ([]byte, bool, error) {
			call, ok := n.(*parse.TemplateNode)
			if !ok {
				return nil, false, nil
			}
			text, ok := staticText(tmpl.Lookup(call.Name))
			return text, ok, nil
		})
	}
	return err
}

// staticText is the text of t when t is nothing but text.
func staticText(t *template.Template) ([]byte, bool) {
	if t == nil || t.Tree == nil || t.Tree.Root == nil {
		return nil, false
	}
	var text []byte
	for _, n := range t.Tree.Root.Nodes {
		tn, ok := n.(*parse.TextNode)
		if !ok {
			return nil, false
		}
		text = append(text, tn.Text...)
	}
	return text, true
}

// literalArg is the string of a pipeline that is exactly one string
// literal ({{template "icon" "trash"}}'s "trash").
func literalArg(p *parse.PipeNode) (string, bool) {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return "", false
	}
	s, ok := p.Cmds[0].Args[0].(*parse.StringNode)
	if !ok {
		return "", false
	}
	return s.Text, true
}

// literalCall is the function and argument of a pipeline that is exactly
// {{fn "literal"}}.
func literalCall(p *parse.PipeNode) (fn, arg string, ok bool) {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 2 {
		return "", "", false
	}
	id, ok1 := p.Cmds[0].Args[0].(*parse.IdentifierNode)
	s, ok2 := p.Cmds[0].Args[1].(*parse.StringNode)
	if !ok1 || !ok2 {
		return "", "", false
	}
	return id.Ident, s.Text, true
}

// navMarker starts the attribute navCurrent writes and render resolves.
const navMarker = `data-nav-current="`

// navCurrent is {{navCurrent "/widgets"}} in a navigation link: the
// link's aria-current attribute for the page being rendered. A template
// function cannot see the request, so it writes a marker,
// data-nav-current="/widgets", which render replaces by the attribute
// (markCurrent) once the page is written. The marker cannot come from
// data: html/template escapes every quote a page's data holds.
func navCurrent(prefix string) template.HTMLAttr {
	return template.HTMLAttr(navMarker + html.EscapeString(prefix) + `"`)
}

// navCurrentAttr is the aria-current attribute of a link to prefix on
// the page at path: "page" on the link's own page, "true" on the pages
// under it (a section: /admin on /admin/users), none elsewhere. "/" is
// current only on itself.
func navCurrentAttr(prefix, path string) string {
	switch {
	case path == prefix:
		return `aria-current="page"`
	case prefix != "/" && strings.HasPrefix(path, strings.TrimSuffix(prefix, "/")+"/"):
		return `aria-current="true"`
	}
	return ""
}

// markCurrent replaces each navCurrent marker of page by the link's
// aria-current attribute for path (or nothing), in place: an attribute
// is never longer than its marker, so page's own memory holds the result
// (this runs on every page view).
func markCurrent(page []byte, path string) []byte {
	marker := []byte(navMarker)
	r := bytes.Index(page, marker) // where the next marker starts
	if r < 0 {
		return page
	}
	w := r // how much of page is written
	for {
		rest := page[r+len(marker):]
		end := bytes.IndexByte(rest, '"')
		if end < 0 { // not a marker navCurrent wrote: leave it
			w += copy(page[w:], page[r:])
			return page[:w]
		}
		attr := currentAttr(rest[:end], path)
		if attr == "" && w > 0 && page[w-1] == ' ' {
			w-- // no attribute: no space before the >
		}
		w += copy(page[w:], attr)
		r += len(marker) + end + 1
		next := bytes.Index(page[r:], marker)
		if next < 0 {
			w += copy(page[w:], page[r:])
			return page[:w]
		}
		w += copy(page[w:], page[r:r+next])
		r += next
	}
}

// currentAttr is navCurrentAttr of a marker's escaped prefix, without
// copying it in the usual case of a path with nothing escaped.
func currentAttr(prefix []byte, path string) string {
	if bytes.IndexByte(prefix, '&') >= 0 {
		return navCurrentAttr(html.UnescapeString(string(prefix)), path)
	}
	switch p := bytes.TrimSuffix(prefix, []byte("/")); {
	case string(prefix) == path:
		return `aria-current="page"`
	case len(prefix) > 1 && len(path) > len(p) && path[len(p)] == '/' && path[:len(p)] == string(p):
		return `aria-current="true"`
	}
	return ""
}

// confirmation is the data of the "confirm" partial: a destructive
// action behind a second step that works without JavaScript.
type confirmation struct {
	// Label names the action on the button that opens the step.
	Label string
	// Action is the URL the form posts to.
	Action string
	// Question is what the step asks.
	Question string
	// Yes is the button that does it: "Yes, " and the label.
	Yes string
	// Icon is the sprite's icon on both buttons ("trash" unless given).
	Icon string
}

// confirm is {{template "confirm" (confirm "Delete" "/widgets/3/delete" "Delete this widget? This cannot be undone.")}};
// an optional fourth argument names another icon than trash.
func confirm(label, action, question string, icon ...string) confirmation {
	c := confirmation{Label: label, Action: action, Question: question, Icon: "trash"}
	if len(icon) > 0 {
		c.Icon = icon[0]
	}
	yes := label
	r, n := utf8.DecodeRuneInString(label)
	if next, _ := utf8.DecodeRuneInString(label[n:]); n > 0 && !unicode.IsUpper(next) {
		yes = string(unicode.ToLower(r)) + label[n:] // "Delete" → "delete", but "API key" stays
	}
	c.Yes = "Yes, " + yes
	return c
}

// emptyState is the data of the "empty" partial.
type emptyState struct {
	Title, Text string
	// Href and LinkLabel are the next action ("" for none).
	Href, LinkLabel string
}

// empty is {{template "empty" (empty "No widgets yet" "Widgets you create appear here." "/widgets/new" "New widget")}}.
func empty(title, text, href, linkLabel string) emptyState {
	return emptyState{Title: title, Text: text, Href: href, LinkLabel: linkLabel}
}

// fieldProblem is the data of the "field-error" partial: the problem of
// the field with id ID, if any.
type fieldProblem struct{ ID, Message string }

// fieldError is {{template "field-error" (fieldError "email" (index .Data.Errors "email"))}}:
// the paragraph has id email-error, which the input's aria-describedby
// names (fieldAria).
func fieldError(id, message string) fieldProblem { return fieldProblem{ID: id, Message: message} }

// problem is the field-error partial's data: a fieldProblem as it is,
// or a bare message (the partial's older form, {{template "field-error"
// index .Data.Errors "email"}}), which has no id to be pointed at.
func problem(v any) (fieldProblem, error) {
	switch v := v.(type) {
	case nil:
		return fieldProblem{}, nil
	case string:
		return fieldProblem{Message: v}, nil
	case fieldProblem:
		return v, nil
	}
	return fieldProblem{}, fmt.Errorf("field-error: %T is neither a message nor fieldError's", v)
}

// fieldAria is the input's attributes that tie it to its hint (id
// ID-hint, when hint) and problem (ID-error, when problem is not empty),
// and mark it invalid when it has a problem; they start with a space:
// <input id="email" name="email"{{fieldAria "email" false (index .Data.Errors "email")}}>.
func fieldAria(id string, hint bool, problem string) template.HTMLAttr {
	var ids []string
	if hint {
		ids = append(ids, id+"-hint")
	}
	if problem != "" {
		ids = append(ids, id+"-error")
	}
	if len(ids) == 0 {
		return ""
	}
	attr := ` aria-describedby="` + html.EscapeString(strings.Join(ids, " ")) + `"`
	if problem != "" {
		attr += ` aria-invalid="true"`
	}
	return template.HTMLAttr(attr)
}

// initials are the one or two letters of the account menu's avatar: of
// the name's first two words, else of the email address.
func initials(u *users.User) string {
	if u == nil {
		return ""
	}
	var b strings.Builder
	for _, w := range strings.Fields(u.Name) {
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
		if b.Len() > 0 && utf8.RuneCountInString(b.String()) == 2 {
			break
		}
	}
	if b.Len() == 0 {
		r, _ := utf8.DecodeRuneInString(u.Email)
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
