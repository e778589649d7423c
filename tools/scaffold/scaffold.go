package main

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"golang.org/x/mod/modfile"

	"github.com/launchkit/launchkit/internal/db"
)

// resource is what is generated: NAME and its fields, in every spelling
// the code needs.
type resource struct {
	Module string // the Go module path, from go.mod
	Name   string // widget, blog_post: the singular, as typed
	Plural string // widgets, blog_posts: the table
	Pkg    string // widgets, blogposts: the package under internal/
	Type   string // Widget, BlogPost
	Types  string // Widgets, BlogPosts
	Label  string // widget, blog post: for people
	Labels string // widgets, blog posts
	Path   string // /widgets, /blog-posts
	Page   string // widgets, blog-posts: the template names
	Fields []field
	Job    bool // a task for each new one (--job)
}

// field is one column (two for a file: its key and its name).
type field struct {
	Name  string // due_date: the column and form field
	Go    string // DueDate
	Label string // Due date
	Kind  string // string, text, int, bool, date, file or image
}

var kinds = []string{"string", "text", "int", "bool", "date", "file", "image"}

// Upload reports whether f holds a file (kinds file and image): a file
// input on the form, the columns NAME_key (its key in the file store,
// NULL for none) and NAME_name (the name it was sent with), and a
// download route.
func (f field) Upload() bool { return f.Kind == "file" || f.Kind == "image" }

// Route is the last element of the download route of an upload field:
// receipt_scan is /invoices/{id}/receipt-scan.
func (f field) Route() string { return strings.ReplaceAll(f.Name, "_", "-") }

// Columns are f's columns: its name, or, for an upload, NAME_key and
// NAME_name.
func (f field) Columns() []string {
	if f.Upload() {
		return []string{f.Name + "_key", f.Name + "_name"}
	}
	return []string{f.Name}
}

// Uploads are r's file and image fields.
func (r *resource) Uploads() []field {
	return slices.DeleteFunc(slices.Clone(r.Fields), func(f field) bool { return !f.Upload() })
}

// Typed are r's fields typed into the form: all but the uploads.
func (r *resource) Typed() []field {
	return slices.DeleteFunc(slices.Clone(r.Fields), field.Upload)
}

// HasImage reports whether one of r's fields is an image.
func (r *resource) HasImage() bool {
	return slices.ContainsFunc(r.Fields, func(f field) bool { return f.Kind == "image" })
}

// FormFields are the text fields of r's forms: the typed ones, and a
// remove_NAME checkbox for each upload.
func (r *resource) FormFields() []string {
	var names []string
	for _, f := range r.Fields {
		if f.Upload() {
			names = append(names, "remove_"+f.Name)
		} else {
			names = append(names, f.Name)
		}
	}
	return names
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// reserved are names a resource or field may not take: they would clash
// with what the site has, or with what each resource gets.
var reserved = map[string]bool{
	"user": true, "users": true, "role": true, "session": true, "admin": true, "api": true,
	"api_key": true, "static": true, "job": true, "jobs": true, "mail": true, "config": true, "db": true,
	"web": true, "app": true, "metric": true, "metrics": true, "outbox": true, "migration": true,
	"migrations": true, "template": true, "templates": true, "testenv": true, "logging": true,
	"ratelimit": true, "awssecret": true, "awssecrets": true, "scaffold": true, "scaffolded": true,
	"service": true, "services": true, "wire": true, "route": true, "routes": true, "server": true,
	"serverwire": true, "handlers": true, "handlerswire": true, "task": true, "tasks": true, "input": true, "problem": true, "form": true,
}

// parse checks NAME, its plural (empty: the English rule) and the
// FIELD:TYPE arguments, against each other and against the tree at root.
func parse(root, name, pluralName string, specs []string) (*resource, error) {
	if !nameRE.MatchString(name) || len(name) > 40 {
		return nil, badInput("name %q: use a singular noun in lower case letters and digits, starting with a letter, words joined by _ (e.g. widget, blog_post)", name)
	}
	if len(name) < 3 {
		return nil, badInput("name %q: use a word of three letters or more", name)
	}
	if pluralName == "" {
		if strings.HasSuffix(name, "s") && !strings.HasSuffix(name, "ss") && !strings.HasSuffix(name, "us") && !strings.HasSuffix(name, "is") {
			return nil, badInput("name %q looks plural: give the singular (widget for widgets), or, when it is one, its plural with --plural", name)
		}
		pluralName = plural(name)
	}
	if !nameRE.MatchString(pluralName) || pluralName == name {
		return nil, badInput("plural %q: use lower case, words joined by _, and not the same as the singular", pluralName)
	}
	if reserved[name] || reserved[pluralName] || token.Lookup(name).IsKeyword() || token.Lookup(pkgName(pluralName)).IsKeyword() {
		return nil, badInput("name %q is taken: the site or Go uses it already", name)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("read go.mod (run it from the repository root): %w", err)
	}
	r := &resource{
		Module: modfile.ModulePath(mod), Name: name, Plural: pluralName,
		Type: camel(name), Types: camel(pluralName),
		Label: strings.ReplaceAll(name, "_", " "), Labels: strings.ReplaceAll(pluralName, "_", " "),
	}
	r.Pkg = pkgName(r.Plural)
	r.Page = strings.ReplaceAll(r.Plural, "_", "-")
	r.Path = "/" + r.Page
	seen := map[string]bool{}
	for _, spec := range specs {
		fname, kind, ok := strings.Cut(spec, ":")
		switch {
		case !ok:
			return nil, badInput("field %q: write NAME:TYPE, e.g. title:string", spec)
		case !nameRE.MatchString(fname) || len(fname) > 40:
			return nil, badInput("field %q: use lower case, words joined by _", fname)
		case fieldTaken[fname] || slices.Contains([]string{"ID", "UserID", "CreatedAt", "UpdatedAt", "TableName"}, camel(fname)):
			return nil, badInput("field %q is taken: every resource has id, user_id, created_at and updated_at (and a TableName method)", fname)
		case token.Lookup(fname).IsKeyword() || sqlReserved[fname]:
			return nil, badInput("field %q is a reserved word in Go or in the SQL of SQLite, PostgreSQL or MySQL: choose another (e.g. sort_order for order)", fname)
		case seen[fname]:
			return nil, badInput("field %q is given twice", fname)
		case !slices.Contains(kinds, kind):
			return nil, badInput("field %s: type %q is not one of %s", fname, kind, strings.Join(kinds, ", "))
		}
		seen[fname] = true
		label := strings.ReplaceAll(fname, "_", " ")
		r.Fields = append(r.Fields, field{Name: fname, Go: camel(fname), Label: strings.ToUpper(label[:1]) + label[1:], Kind: kind})
	}
	if err := r.uploadNames(); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(r.Fields, func(f field) bool { return f.Kind == "string" }) {
		return nil, badInput("give at least one string field: it names each %s in lists", r.Label)
	}
	if err := r.clashes(root); err != nil {
		return nil, err
	}
	return r, nil
}

// uploadNames refuses a file or image field whose download route would
// be one of the resource's own (edit), or whose columns and form
// fields (NAME_key, NAME_name, remove_NAME) another field has.
func (r *resource) uploadNames() error {
	owner := map[string]string{} // column or form field → the field it is of
	for _, f := range r.Fields {
		names := f.Columns()
		if f.Upload() {
			names = append(names, "remove_"+f.Name)
			if f.Name == "edit" { // (delete, the other, is an SQL word: refused already)
				return badInput("field %q: its download route would be %s/{id}/%s, which the %s has already: choose another name", f.Name, r.Path, f.Route(), r.Label)
			}
		}
		for _, n := range names {
			if other, ok := owner[n]; ok {
				return badInput("fields %s and %s both need the column or form field %s: rename one", other, f.Name, n)
			}
			owner[n] = f.Name
		}
	}
	return nil
}

// fieldTaken are the columns every resource has.
var fieldTaken = map[string]bool{"id": true, "user_id": true, "created_at": true, "updated_at": true}

// sqlReserved are words SQLite, PostgreSQL or MySQL reserve, which a
// column cannot be called without quoting.
var sqlReserved = map[string]bool{}

func init() {
	for w := range strings.FieldsSeq(`add all alter analyze and as asc between both by case cast check collate column
		constraint create cross current_date current_time current_timestamp current_user database default
		delete desc distinct drop else end except exists false fetch for foreign from full grant group
		having in index inner insert interval intersect into is join key keys leading left like limit
		natural not null offset on or order outer primary range read references rename replace return
		right row rows schema select session_user set some table then to trailing true union unique
		update usage user using values when where window with`) {
		sqlReserved[w] = true
	}
}

// clashes reports a resource whose names the tree has already: its
// package or table, the App field, or a declaration of package web
// (handlers, page data, tests) or of the identifiers each generated
// package declares.
func (r *resource) clashes(root string) error {
	if slices.Contains([]string{"Input", "Problems", "Service", "Added"}, r.Type) ||
		slices.Contains([]string{"Input", "Problems", "Service", "Added"}, r.Types) {
		return badInput("name %q would clash with what its own package declares (Input, Problems, Service): choose another", r.Name)
	}
	local := lowerFirst(r.Type)
	if slices.Contains([]string{"err", "ctx", "list", "made", "added", "payload", "got", "changed", "problems", "form", "page", "status", "handle"}, local) {
		return badInput("name %q would clash with a variable of the generated code: choose another", r.Name)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", r.Pkg)); err == nil {
		return badInput("internal/%s exists already: choose another name, or remove it first", r.Pkg)
	}
	migrations, _ := filepath.Glob(filepath.Join(root, "migrations", "*", "*.sql"))
	table := regexp.MustCompile(`(?i)CREATE TABLE (?:IF NOT EXISTS )?(\w+)`)
	for _, m := range migrations {
		b, _ := os.ReadFile(m)
		for _, t := range table.FindAllStringSubmatch(string(b), -1) {
			if strings.EqualFold(t[1], r.Plural) {
				return badInput("the table %s exists already (%s): choose another name", r.Plural, filepath.Base(m))
			}
		}
	}
	taken, err := declared(filepath.Join(root, "internal", "web"))
	if err != nil {
		return err
	}
	ids := []string{
		lowerFirst(r.Types) + "Page", "new" + r.Type + "Page", "create" + r.Type, "edit" + r.Type + "Page", "update" + r.Type, "delete" + r.Type,
		lowerFirst(r.Types) + "Data", lowerFirst(r.Type) + "FormData", lowerFirst(r.Type) + "Fields", lowerFirst(r.Type) + "Input",
		lowerFirst(r.Type) + "Form", "render" + r.Types, "Test" + r.Types + "Pages", lowerFirst(r.Types),
	}
	if len(r.Uploads()) > 0 {
		ids = append(ids, lowerFirst(r.Type)+"Files", "store"+r.Type+"Files", "Test"+r.Types+"Files")
		for _, f := range r.Uploads() {
			ids = append(ids, "serve"+r.Type+f.Go)
		}
	}
	for _, id := range ids {
		if taken[id] {
			return badInput("name %q would declare %s in internal/web, which has one: choose another name", r.Name, id)
		}
	}
	app, err := declared(filepath.Join(root, "internal", "app"))
	if err != nil {
		return err
	}
	if app[r.Types] {
		return badInput("name %q would add the field %s to app.App, which has one: choose another name", r.Name, r.Types)
	}
	return nil
}

// declared lists the names declared at the top of the Go files in dir,
// methods and struct fields included (tests too).
func declared(dir string) (map[string]bool, error) {
	names := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				names[d.Name.Name] = true
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						names[spec.Name.Name] = true
						if st, ok := spec.Type.(*ast.StructType); ok {
							for _, fld := range st.Fields.List {
								for _, n := range fld.Names {
									names[n.Name] = true
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
	return names, nil
}

// plural is the English plural of a singular noun in lower case.
func plural(s string) string {
	switch {
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "z"),
		strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
	}
	return s + "s"
}

// camel is blog_post as BlogPost; an initialism the Go style spells in
// capitals (id, url) is.
func camel(s string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(s, "_") {
		switch part {
		case "id", "url", "api", "http", "html", "json", "sql":
			b.WriteString(strings.ToUpper(part))
		default:
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// pkgName is blog_posts as blogposts.
func pkgName(s string) string { return strings.ReplaceAll(s, "_", "") }

//go:embed templates/*.tmpl
var templates embed.FS

// file is one generated file: where it goes, from which template.
type file struct{ path, tmpl string }

func (r *resource) files() []file {
	files := []file{
		{filepath.Join("internal", r.Pkg, r.Pkg+".go"), "domain.go.tmpl"},
		{filepath.Join("internal", r.Pkg, r.Pkg+"_test.go"), "domain_test.go.tmpl"},
		{filepath.Join("internal", "web", r.Pkg+".go"), "handlers.go.tmpl"},
		{filepath.Join("internal", "web", r.Pkg+"_test.go"), "handlers_test.go.tmpl"},
		{filepath.Join("templates", "pages", r.Page+".html"), "list.html.tmpl"},
		{filepath.Join("templates", "pages", r.Page+"-edit.html"), "edit.html.tmpl"},
	}
	if r.Job {
		files = append(files,
			file{filepath.Join("internal", "jobs", r.Name+"_added.go"), "job.go.tmpl"},
			file{filepath.Join("internal", "jobs", r.Name+"_added_test.go"), "job_test.go.tmpl"})
	}
	return files
}

// insertion is a line added at a marker of an existing file. For the
// marker "import (" the lines go after the file's last import of module
// (its own group), else first in the block; with before, just before the
// marker (so that they stay in the order they were added).
type insertion struct {
	path, marker string
	lines        []string
	module       string
	before       bool
}

func (r *resource) insertions() []insertion {
	ins := []insertion{
		{filepath.Join("internal", "app", "app.go"), "// scaffold:services", []string{
			fmt.Sprintf("%s *%s.Service", r.Types, r.Pkg),
		}, "", false},
		{filepath.Join("internal", "app", "app.go"), "// scaffold:wire", []string{
			fmt.Sprintf("a.%s = %s.NewService(a.DB)", r.Types, r.Pkg),
		}, "", false},
		{filepath.Join("internal", "app", "app.go"), "import (", []string{
			fmt.Sprintf("%q", r.Module+"/internal/"+r.Pkg),
		}, r.Module, false},
		{filepath.Join("internal", "jobs", "handlers.go"), "// scaffold:handlers", []string{
			fmt.Sprintf("%s *%s.Service", r.Types, r.Pkg),
		}, "", false},
		{filepath.Join("internal", "jobs", "handlers.go"), "import (", []string{
			fmt.Sprintf("%q", r.Module+"/internal/"+r.Pkg),
		}, r.Module, false},
		{filepath.Join("internal", "app", "app.go"), "// scaffold:handlerswire", []string{
			fmt.Sprintf("%s: a.%s,", r.Types, r.Types),
		}, "", false},
		{filepath.Join("internal", "web", "server.go"), "// scaffold:server", []string{
			fmt.Sprintf("%s *%s.Service", lowerFirst(r.Types), r.Pkg),
		}, "", false},
		{filepath.Join("internal", "web", "server.go"), "// scaffold:serverwire", []string{
			fmt.Sprintf("s.%s = a.%s", lowerFirst(r.Types), r.Types),
		}, "", false},
		{filepath.Join("internal", "web", "server.go"), "import (", []string{
			fmt.Sprintf("%q", r.Module+"/internal/"+r.Pkg),
		}, r.Module, false},
		{filepath.Join("internal", "web", "routes.go"), "// scaffold:routes", []string{
			fmt.Sprintf("r.Get(%q, s.handle(s.%sPage))", r.Path, lowerFirst(r.Types)),
			fmt.Sprintf("r.Get(%q, s.handle(s.new%sPage))", r.Path+"/new", r.Type),
			fmt.Sprintf("r.Post(%q, s.handle(s.create%s))", r.Path, r.Type),
			fmt.Sprintf("r.Get(%q, s.handle(s.edit%sPage))", r.Path+"/{id}/edit", r.Type),
			fmt.Sprintf("r.Post(%q, s.handle(s.update%s))", r.Path+"/{id}/edit", r.Type),
			fmt.Sprintf("r.Post(%q, s.handle(s.delete%s))", r.Path+"/{id}/delete", r.Type),
		}, "", false},
		{filepath.Join("internal", "web", "handler.go"), "// scaffold:errors", []string{
			fmt.Sprintf("{err: %s.ErrNotFound, status: http.StatusNotFound, message: %q},", r.Pkg, "You have no such "+r.Label+"."),
		}, "", false},
		{filepath.Join("internal", "web", "handler.go"), "import (", []string{
			fmt.Sprintf("%q", r.Module+"/internal/"+r.Pkg),
		}, r.Module, false},
		{navPath, navMarker, []string{
			fmt.Sprintf(`<li><a class="nav-link" href="%s" {{navCurrent %q}}>{{template "icon" "inbox"}}%s</a></li>`, r.Path, r.Path, title(r.Labels)),
		}, "", true},
	}
	if r.Job {
		ins = append(ins, insertion{path: filepath.Join("internal", "jobs", "tasks.go"), marker: "// scaffold:tasks", lines: []string{lowerFirst(r.Type) + "AddedTask,"}})
	}
	if uploads := r.Uploads(); len(uploads) > 0 {
		// The files' download routes, after the resource's own; and the
		// release of a user's files when their account goes (its
		// cascade takes the rows, not the files).
		for i := range ins {
			if ins[i].marker == "// scaffold:routes" {
				for _, f := range uploads {
					ins[i].lines = append(ins[i].lines, fmt.Sprintf("r.Get(%q, s.handle(s.serve%s%s))", r.Path+"/{id}/"+f.Route(), r.Type, f.Go))
				}
			}
			if ins[i].marker == "// scaffold:wire" {
				ins[i].lines = append(ins[i].lines, fmt.Sprintf("a.Users.BeforeDelete = append(a.Users.BeforeDelete, a.%s.ReleaseFilesOf)", r.Types))
			}
		}
	}
	return ins
}

// formID is the id of the form page's form, and the prefix of its
// fields' ids: widget-form, widget-title.
func (r *resource) formID() string { return strings.ReplaceAll(r.Name, "_", "-") }

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// The navigation of signed-in pages, and the line each resource's link
// goes before.
var (
	navPath   = filepath.Join("templates", "layouts", "nav.html")
	navMarker = "{{/* scaffold:nav */}}"
)

// tag marks the lines a resource added to existing files (distinct from
// the markers, "// scaffold:…", they are added at); in a template it is
// a template comment.
func tag(name string) string { return "// scaffolded:" + name }

// tagIn is the tag of name's lines in the file at path.
func tagIn(name, path string) string {
	if filepath.Ext(path) == ".html" {
		return "{{/* scaffolded:" + name + " */}}"
	}
	return tag(name)
}

// tagged reports whether line ends with name's tag in the file at path.
func tagged(line, name, path string) bool {
	return strings.HasSuffix(strings.TrimRight(line, "\n"), tagIn(name, path))
}

// header is the first line of every file made for name, in the comment
// syntax of the file's kind: --delete removes only files that start
// with it.
func header(name, path string) string {
	text := "Made by tools/scaffold for " + name + ": yours to change."
	switch filepath.Ext(path) {
	case ".html":
		return "{{/* " + text + " */}}"
	case ".sql":
		return "-- " + text
	}
	return "// " + text
}

// madeFor reports whether the file at path starts with name's header.
func madeFor(name, path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return first == header(name, path)
}

// generate writes r's files and lines, refusing before writing anything
// when one of its files exists.
func generate(root string, r *resource, out io.Writer) error {
	for _, f := range r.files() {
		if _, err := os.Stat(filepath.Join(root, f.path)); err == nil {
			return badInput("%s exists already: choose another name, or remove it first (go run ./tools/scaffold --delete %s)", f.path, r.Name)
		}
	}
	for _, in := range r.insertions() {
		b, err := os.ReadFile(filepath.Join(root, in.path))
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(strings.Split(string(b), "\n"), func(l string) bool { return strings.TrimSpace(l) == in.marker }) {
			return fmt.Errorf("%s has no %q line: put it back where the generator should add %s's lines", in.path, in.marker, r.Name)
		}
		if slices.ContainsFunc(strings.Split(string(b), "\n"), func(l string) bool { return tagged(l, r.Name, in.path) }) {
			return badInput("%s has lines of a %s already: remove them first (go run ./tools/scaffold --delete %s)", in.path, r.Name, r.Name)
		}
	}
	funcs := template.FuncMap{
		"lowerFirst": lowerFirst, "sample": sample, "lower": strings.ToLower,
		"title": title, "formID": r.formID,
		"hasKind": func(fs []field, kind string) bool {
			return slices.ContainsFunc(fs, func(f field) bool { return f.Kind == kind })
		},
		"firstString": func(fs []field) field {
			return fs[slices.IndexFunc(fs, func(f field) bool { return f.Kind == "string" })]
		},
		"goType":     func(kind string) string { return goTypes[kind] },
		"inputType":  func(kind string) string { return map[bool]string{true: "bool", false: "string"}[kind == "bool"] },
		"sqlColumns": sqlColumns,
		"cell":       func(f field) string { return cell(f, r.Path) },
		"input":      func(f field) string { return input(f, r.formID()+"-"+f.Name, r) },
		"quoted": func(names []string) string {
			var q []string
			for _, n := range names {
				q = append(q, strconv.Quote(n))
			}
			return strings.Join(q, ", ")
		},
	}
	tmpls, err := template.New("").Funcs(funcs).ParseFS(templates, "templates/*.tmpl")
	if err != nil {
		return err
	}
	var written []string
	for _, f := range r.files() {
		var b bytes.Buffer
		if err := tmpls.ExecuteTemplate(&b, f.tmpl, r); err != nil {
			return fmt.Errorf("render %s: %w", f.path, err)
		}
		out := append([]byte(header(r.Name, f.path)+"\n\n"), b.Bytes()...)
		if strings.HasSuffix(f.path, ".go") {
			if out, err = format.Source(out); err != nil {
				return fmt.Errorf("generated %s does not parse: %w\n%s", f.path, err, out)
			}
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f.path)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(root, f.path), out, 0o644); err != nil {
			return err
		}
		written = append(written, f.path)
	}
	migrations, err := writeMigrations(root, r, tmpls)
	if err != nil {
		return err
	}
	written = append(written, migrations...)
	for _, in := range r.insertions() {
		if err := insert(root, in, tagIn(r.Name, in.path)); err != nil {
			return err
		}
	}
	for _, p := range written {
		fmt.Fprintln(out, "wrote", p)
	}
	var edited []string
	for _, in := range r.insertions() {
		if !slices.Contains(edited, in.path) {
			edited = append(edited, in.path)
		}
	}
	fmt.Fprintf(out, "added %s's lines to %s (each ends with %q, in templates %q)\n", r.Name, strings.Join(edited, ", "), tag(r.Name), tagIn(r.Name, navPath))
	tests := "./internal/" + r.Pkg + " ./internal/web"
	if r.Job {
		tests += " ./internal/jobs"
	}
	fmt.Fprintf(out, "next: go run ./cmd/manage migrate up; go test %s; then open %s\n", tests, r.Path)
	return nil
}

// writeMigrations writes the create-table migration into each dialect
// folder present under migrations/.
func writeMigrations(root string, r *resource, tmpls *template.Template) ([]string, error) {
	dir := filepath.Join(root, "migrations")
	paths, err := db.CreateMigration(dir, "create_"+r.Plural)
	if err != nil {
		return nil, err
	}
	var written []string
	for _, p := range paths {
		dialect := filepath.Base(filepath.Dir(p))
		var b bytes.Buffer
		b.WriteString(header(r.Name, p) + "\n")
		if err := tmpls.ExecuteTemplate(&b, "migration.sql.tmpl", map[string]any{"R": r, "Dialect": dialect}); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(root, p)
		written = append(written, rel)
	}
	return written, nil
}

// insert adds in's lines, tagged, after (or before) its marker line, and
// formats the file when it is Go. A line the file has already, tag and
// all, is not added again.
func insert(root string, in insertion, tag string) error {
	path := filepath.Join(root, in.path)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := slices.Collect(strings.Lines(string(b)))
	sep := " " // between a line and its tag
	if filepath.Ext(in.path) == ".html" {
		sep = ""
	}
	in.lines = slices.DeleteFunc(slices.Clone(in.lines), func(l string) bool {
		return slices.ContainsFunc(lines, func(have string) bool { return strings.TrimSpace(have) == l+sep+tag })
	})
	if len(in.lines) == 0 {
		return nil
	}
	at := -1 // insert after lines[at]
	for i, line := range lines {
		if strings.TrimSpace(line) == in.marker {
			at = i
			break
		}
	}
	indent := ""
	if at >= 0 {
		indent = lines[at][:len(lines[at])-len(strings.TrimLeft(lines[at], " \t"))]
	}
	if in.marker == "import (" && at >= 0 {
		indent += "\t"
		for i := at + 1; i < len(lines) && strings.TrimSpace(lines[i]) != ")"; i++ {
			if in.module != "" && strings.HasPrefix(strings.TrimSpace(lines[i]), `"`+in.module+`/`) {
				at = i
			}
		}
	}
	if at < 0 {
		return fmt.Errorf("%s has no %q line", in.path, in.marker)
	}
	var added []string
	for _, l := range in.lines {
		added = append(added, indent+l+sep+tag+"\n")
	}
	if in.before {
		at--
	}
	out := slices.Concat(lines[:at+1], added, lines[at+1:])
	if filepath.Ext(in.path) != ".go" {
		return os.WriteFile(path, []byte(strings.Join(out, "")), 0o644)
	}
	src, err := format.Source([]byte(strings.Join(out, "")))
	if err != nil {
		return fmt.Errorf("%s after adding lines: %w", in.path, err)
	}
	return os.WriteFile(path, src, 0o644)
}

// remove deletes what generate made for name: its files, its migrations
// and its tagged lines.
func remove(root, name, pluralName string, out io.Writer) error {
	if !nameRE.MatchString(name) {
		return badInput("name %q: use the name the resource was made with", name)
	}
	pluralName = cmp.Or(pluralName, plural(name))
	r := &resource{Name: name, Plural: pluralName, Pkg: pkgName(pluralName), Page: strings.ReplaceAll(pluralName, "_", "-"), Job: true}
	removed := 0
	for _, f := range r.files() {
		path := filepath.Join(root, f.path)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if !madeFor(name, path) {
			fmt.Fprintf(out, "left %s: the generator did not make it for %s\n", f.path, name)
			continue
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		fmt.Fprintln(out, "removed", f.path)
		removed++
	}
	_ = os.Remove(filepath.Join(root, "internal", r.Pkg)) // only if empty: your own files stay
	migrations, _ := filepath.Glob(filepath.Join(root, "migrations", "*", "*_create_"+r.Plural+".sql"))
	for _, p := range migrations {
		if !madeFor(name, p) {
			continue
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintln(out, "removed", rel)
		removed++
	}
	if len(migrations) > 0 {
		fmt.Fprintln(out, "A database the migration was applied to keeps its table and its version: if it was applied anywhere that matters, put the migration back and write one that drops the table instead.")
	}
	for _, p := range []string{
		filepath.Join("internal", "app", "app.go"), filepath.Join("internal", "web", "server.go"),
		filepath.Join("internal", "web", "routes.go"), filepath.Join("internal", "web", "handler.go"),
		filepath.Join("internal", "jobs", "tasks.go"), filepath.Join("internal", "jobs", "handlers.go"), navPath,
	} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		var kept []string
		for line := range strings.Lines(string(b)) {
			if tagged(line, name, p) {
				removed++
				continue
			}
			kept = append(kept, line)
		}
		src := []byte(strings.Join(kept, ""))
		if filepath.Ext(p) == ".go" {
			src, err = format.Source(src)
		}
		if err != nil {
			return fmt.Errorf("%s after removing lines: %w", p, err)
		}
		if err := os.WriteFile(filepath.Join(root, p), src, 0o644); err != nil {
			return err
		}
	}
	if removed == 0 {
		return badInput("nothing the generator made for %q was found to remove (run it from the repository root, with the name the resource was made with)", name)
	}
	return nil
}

// goTypes are the Go types of the field kinds.
var goTypes = map[string]string{"string": "string", "text": "string", "int": "int64", "bool": "bool", "date": "time.Time"}

// sqlTypes are the column types of the field kinds in each dialect.
var sqlTypes = map[string]map[string]string{
	"sqlite": {
		"string": "VARCHAR(200) NOT NULL", "text": "TEXT NOT NULL DEFAULT ''", "int": "BIGINT NOT NULL",
		"bool": "BOOLEAN NOT NULL DEFAULT FALSE", "date": "DATE NOT NULL",
	},
	"postgres": {
		"string": "VARCHAR(200) NOT NULL", "text": "TEXT NOT NULL DEFAULT ''", "int": "BIGINT NOT NULL",
		"bool": "BOOLEAN NOT NULL DEFAULT FALSE", "date": "DATE NOT NULL",
	},
	"mysql": {
		"string": "VARCHAR(200) NOT NULL", "text": "TEXT NOT NULL", "int": "BIGINT NOT NULL",
		"bool": "BOOLEAN NOT NULL DEFAULT FALSE", "date": "DATE NOT NULL",
	},
}

// keyTypes are the column types of a stored file's key (NULL: no file),
// as migrations/*/00014_files.sql has them: on MySQL compared byte by
// byte, as keys are.
var keyTypes = map[string]string{
	"sqlite":   "VARCHAR(255) NULL",
	"postgres": "VARCHAR(255) NULL",
	"mysql":    "VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL",
}

// sqlColumns are the column definitions of f in dialect: one, or for an
// upload its key and the name it was sent with.
func sqlColumns(dialect string, f field) []string {
	if f.Upload() {
		return []string{f.Name + "_key " + keyTypes[dialect], f.Name + "_name VARCHAR(255) NOT NULL DEFAULT ''"}
	}
	return []string{f.Name + " " + sqlTypes[dialect][f.Kind]}
}

// cell is the template text showing a field in a list row of the
// resource at path: an upload is a link to it, by its name.
func cell(f field, path string) string {
	switch f.Kind {
	case "bool":
		return "{{if ." + f.Go + "}}yes{{else}}no{{end}}"
	case "date":
		return "{{." + f.Go + ".Format \"2006-01-02\"}}"
	case "file", "image":
		return fmt.Sprintf(`{{if .%sKey}}<a href="%s/{{.ID}}/%s">{{.%sName}}</a>{{end}}`, f.Go, path, f.Route(), f.Go)
	}
	return "{{." + f.Go + "}}"
}

// input is the template text of a field's form control in the form
// page's markup: its label, its hint, its problem, if any (tied to the
// control by aria-describedby and marking it aria-invalid), and the
// value typed, kept when the form comes back.
func input(f field, id string, r *resource) string {
	if f.Upload() {
		return upload(f, id, r)
	}
	if f.Kind == "bool" {
		return fmt.Sprintf(`  <div class="field field-check">
    <input type="checkbox" id="%s" name="%s"{{if index .Data.Form.Values %q}} checked{{end}}>
    <label for="%s">%s</label>
  </div>`, id, f.Name, f.Name, id, f.Label)
	}
	problem := fmt.Sprintf(`index .Data.Form.Errors %q`, f.Name)
	aria := fmt.Sprintf(`aria-describedby="%s-hint{{if %s}} %s-error{{end}}"{{if %s}} aria-invalid="true"{{end}}`, id, problem, id, problem)
	value := fmt.Sprintf(`{{index .Data.Form.Values %q}}`, f.Name)
	var control string
	switch f.Kind {
	case "text":
		control = fmt.Sprintf(`<textarea id="%s" name="%s" rows="4" maxlength="5000" %s>%s</textarea>`, id, f.Name, aria, value)
	default:
		attrs := map[string]string{"string": `maxlength="200" required`, "int": `inputmode="numeric" required`, "date": `type="date" required`}[f.Kind]
		control = fmt.Sprintf(`<input id="%s" name="%s" value="%s" %s %s>`, id, f.Name, value, attrs, aria)
	}
	return fmt.Sprintf(`  <div class="field">
    <label for="%s">%s</label>
    %s
    <p class="hint" id="%s-hint">%s</p>
    {{with %s}}<p class="field-error" id="%s-error">{{template "icon" "alert"}}{{.}}</p>{{end}}
  </div>`, id, f.Label, control, id, hints[f.Kind], problem, id)
}

// upload is the template text of a file or image field's control: the
// file input and, on the edit page of a record that has a file, a link to
// it and a box to remove it. An input left empty keeps the file.
func upload(f field, id string, r *resource) string {
	problem := fmt.Sprintf(`index .Data.Form.Errors %q`, f.Name)
	aria := fmt.Sprintf(`aria-describedby="%s-hint{{if %s}} %s-error{{end}}"{{if %s}} aria-invalid="true"{{end}}`, id, problem, id, problem)
	accept := ""
	if f.Kind == "image" {
		accept = ` accept="image/png,image/jpeg,image/gif,image/webp"`
	}
	return fmt.Sprintf(`  <div class="field">
    <label for="%s">%s</label>
    <input type="file" id="%s" name="%s"%s %s>
    <p class="hint" id="%s-hint">%s{{with .Data.%s}}{{if .%sKey}} Now: <a href="%s/{{.ID}}/%s">{{.%sName}}</a>; choose no file to keep it.{{end}}{{end}}</p>
    {{with %s}}<p class="field-error" id="%s-error">{{template "icon" "alert"}}{{.}}</p>{{end}}
  </div>
  {{- with .Data.%s}}{{if .%sKey}}
  <div class="field field-check">
    <input type="checkbox" id="%s-remove" name="remove_%s"{{if index $.Data.Form.Values "remove_%s"}} checked{{end}}>
    <label for="%s-remove">Remove the %s</label>
  </div>
  {{- end}}{{end}}`, id, f.Label, id, f.Name, accept, aria,
		id, hints[f.Kind], r.Type, f.Go, r.Path, f.Route(), f.Go,
		problem, id,
		r.Type, f.Go, id, f.Name, f.Name, id, strings.ToLower(f.Label))
}

// hints are the words under a field of each kind (the rules of check).
var hints = map[string]string{
	"string": fmt.Sprintf("One line, at most %d characters.", maxLineLen),
	"text":   fmt.Sprintf("Plain text, at most %d characters.", maxTextLen),
	"int":    "A whole number, such as 42.",
	"date":   "A date, as YYYY-MM-DD.",
	"file":   "Any file (optional).",
	"image":  "A PNG, JPEG, GIF or WebP picture (optional).",
}

// sample is a valid form value of a field kind for the generated tests;
// n tells two apart.
func sample(kind string, n int) string {
	switch kind {
	case "string":
		return []string{"First entry", "Renamed entry"}[n%2]
	case "text":
		return []string{"Some notes.", "Other notes."}[n%2]
	case "int":
		return []string{"42", "7"}[n%2]
	case "bool":
		return []string{"on", ""}[n%2]
	case "date":
		return []string{"2026-12-24", "2027-01-31"}[n%2]
	}
	return ""
}

// badValue is a value a field's rules refuse, for a row of the
// generated tests.
type badValue struct {
	Case    string // what is wrong, naming the field: "title blank"
	Go      string // the value, as Go source
	Problem string // the words of the problem the rules name
}

// Bad are the values the rules of f refuse, in a package pkg (whose
// limits they use); none for a bool.
func (f field) Bad(pkg string) []badValue {
	name := strings.ReplaceAll(f.Name, "_", " ")
	switch f.Kind {
	case "string":
		long := fmt.Sprintf("Use one line of at most %d characters.", maxLineLen)
		return []badValue{
			{name + " blank", `"   "`, "Enter the " + strings.ToLower(f.Label) + "."},
			{name + " too long", fmt.Sprintf(`strings.Repeat("x", %s.MaxLineLen+1)`, pkg), long},
			{name + " of two lines", `"one\ntwo"`, long},
		}
	case "text":
		return []badValue{{name + " too long", fmt.Sprintf(`strings.Repeat("x", %s.MaxTextLen+1)`, pkg), fmt.Sprintf("Use at most %d characters of plain text.", maxTextLen)}}
	case "int":
		return []badValue{{name + " not a number", `"many"`, "Enter a whole number."}}
	case "date":
		return []badValue{{name + " not a date", `"someday"`, "Enter a date as YYYY-MM-DD."}}
	}
	return nil
}

// The limits of a generated package's fields (its MaxLineLen and
// MaxTextLen), in the words of its problems.
const (
	maxLineLen = 200
	maxTextLen = 5000
)
