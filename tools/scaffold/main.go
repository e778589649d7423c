// Command scaffold generates a complete resource owned by signed-in users:
// its migration for each SQL dialect present, a domain package with its
// rules, handlers and routes, templates in the site layout, and tests for
// all of it — the code a careful engineer would write by hand, to read
// and change as your own.
//
//	go run ./tools/scaffold widget title:string done:bool due:date
//	go run ./tools/scaffold invoice title:string receipt:file scan:image
//	go run ./tools/scaffold --job widget title:string
//	go run ./tools/scaffold --delete widget
//
// Field types: string (one line, required, at most 200 characters), text
// (several lines, optional), int, bool (a checkbox), date, and, for
// uploads, file (any file) and image (a PNG, JPEG, GIF or WebP picture,
// stored re-encoded): optional, kept in the file store (internal/storage)
// and served to the owner alone at /RESOURCES/{id}/FIELD. With --job
// each new one also gets a background task, written to the outbox in the
// transaction that creates it (internal/jobs/NAME_added.go). It writes
// new files only (it refuses to overwrite one) and adds its lines to
// internal/app/app.go, internal/web/server.go, internal/web/routes.go and
// internal/web/handler.go at their `scaffold:` markers, each line tagged with the resource's name so that --delete
// takes exactly them out again. Run it from the repository root.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], ".", os.Stdout, os.Stderr))
}

// run is main without the process: args, the repository root, and where
// to report. It returns the exit code: 0, 1 for a failure, 2 for bad
// usage.
func run(args []string, root string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scaffold", flag.ContinueOnError)
	fs.SetOutput(stderr)
	del := fs.Bool("delete", false, "remove a resource the generator made (its files and tagged lines)")
	job := fs.Bool("job", false, "also a background task run for each new one (written to the outbox with it)")
	pluralName := fs.String("plural", "", "the plural, when the English rule gets it wrong (news, data)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./tools/scaffold [--job] NAME FIELD:TYPE...   (types: string, text, int, bool, date, file, image)")
		fmt.Fprintln(stderr, "       go run ./tools/scaffold --delete NAME")
		fs.PrintDefaults()
	}
	// Flags may come after NAME and the fields too.
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	var err error
	switch {
	case *del && fs.NArg() == 1:
		err = remove(root, fs.Arg(0), *pluralName, stdout)
	case !*del && fs.NArg() >= 2:
		var r *resource
		if r, err = parse(root, fs.Arg(0), *pluralName, fs.Args()[1:]); err == nil {
			r.Job = *job
			err = generate(root, r, stdout)
		}
	default:
		fs.Usage()
		return 2
	}
	var usage *usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "scaffold:", err)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "scaffold:", err)
		return 1
	}
	return 0
}

// usageError is input the generator refuses: a bad name or field.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}
