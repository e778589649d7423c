// Reading forms that carry files (multipart/form-data) as they arrive:
// never whole in memory, and refused the moment they pass the limit.

package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/storage"
)

// upload is one file of a form, received into a temporary file.
type upload struct {
	// Name is the client's name for the file, cleaned: for showing and
	// for offering back on download, never for storing under.
	Name string
	// File holds the bytes, positioned at the start; Close removes it.
	File *os.File
	Size int64
	// ContentType is what the bytes say they are (storage.Sniff), never
	// what the client or the name claims.
	ContentType string
}

// Close removes the temporary file.
func (u *upload) Close() {
	if u == nil || u.File == nil {
		return
	}
	_ = u.File.Close()
	_ = os.Remove(u.File.Name())
}

// uploads are the files of a form by field name; Close removes them all.
type uploads map[string]*upload

// Close removes every temporary file.
func (us uploads) Close() {
	for _, u := range us {
		u.Close()
	}
}

// maxFormParts bounds how many parts a multipart form may have.
const maxFormParts = 64

// parseUploadForm reads a multipart/form-data body part by part: the
// text fields (together at most maxFormBytes, each plain text) into the
// form, and each file part whose name is in files into a temporary file
// of at most UPLOAD_MAX_BYTES bytes, sniffed as it arrives. The moment a
// file passes that limit the request is answered 413, without reading
// the rest. A file field left empty (no file chosen, or a file of no
// bytes) has no upload. The caller closes the uploads. A body that is
// not multipart is read as an ordinary form (no files).
func (s *Server) parseUploadForm(w http.ResponseWriter, r *http.Request, files []string, fields ...string) (*form, uploads, error) {
	if !isMultipart(r) {
		f, err := s.parseForm(w, r, fields...)
		return f, uploads{}, err
	}
	limit := int64(s.cfg.UploadMaxBytes)
	// The whole body: the files, the fields and each part's headers.
	r.Body = http.MaxBytesReader(w, r.Body, int64(len(files))*limit+maxFormBytes+maxFormParts*1024)
	// What is held in memory (the parts' headers, the text fields) is
	// bounded apart from the files, which go to disk.
	budget := &formBudget{r: r.Body, limit: maxFormBytes + maxFormParts*1024 + formSlack}
	r.Body = budget
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	f := newForm()
	got := uploads{}
	ok := false
	defer func() {
		if !ok {
			got.Close()
		}
	}()
	textLeft := int64(maxFormBytes)
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, formReadError(err, limit)
		}
		if parts == maxFormParts {
			return nil, nil, errStatus(http.StatusBadRequest, "The form has too many parts.")
		}
		name := p.FormName()
		switch {
		case name == "":
			// A part with no name is no field: skipped.
		case p.FileName() != "" || slices.Contains(files, name):
			if !slices.Contains(files, name) || got[name] != nil {
				return nil, nil, errStatus(http.StatusBadRequest, "The form holds a file it does not take.")
			}
			u, err := receive(p, limit, &budget.files)
			if err != nil {
				return nil, nil, formReadError(err, limit)
			}
			if u != nil {
				got[name] = u
			}
		default:
			b, err := io.ReadAll(io.LimitReader(p, textLeft+1))
			if err != nil {
				return nil, nil, formReadError(err, limit)
			}
			textLeft -= int64(len(b))
			if textLeft < 0 {
				return nil, nil, errStatus(http.StatusRequestEntityTooLarge, "")
			}
			if !db.PlainText(string(b)) {
				return nil, nil, errStatus(http.StatusBadRequest, badTextMessage)
			}
			if slices.Contains(fields, name) {
				if _, seen := f.Values[name]; !seen {
					f.Values[name] = string(b)
				}
			}
		}
		p.Close()
	}
	for _, name := range fields {
		if _, seen := f.Values[name]; !seen {
			f.Values[name] = ""
		}
	}
	ok = true
	return f, got, nil
}

// isMultipart reports whether r's body is a form that may carry files
// (multipart/form-data).
func isMultipart(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "multipart/form-data"
}

// errFileTooLarge is a file past UPLOAD_MAX_BYTES.
var errFileTooLarge = errors.New("file too large")

// errFormTooLarge is a form whose headers and text fields pass what it
// may hold in memory.
var errFormTooLarge = errors.New("form too large")

// formSlack is what the multipart reader may read ahead of the part it
// is in (its buffer), counted against formBudget as if it were not a
// file's.
const formSlack = 8 << 10

// formBudget reads a multipart body, failing with errFormTooLarge once
// more than limit of the bytes read are not files' bytes (files counts
// those, as receive writes them): the parts' headers and the text
// fields, which the multipart reader and parseUploadForm hold in memory.
// mime/multipart alone lets one part's headers take 10 MB; the body's
// own bound is the files' size.
type formBudget struct {
	r           io.ReadCloser
	read, files int64
	limit       int64
}

// Read reads from the body while the budget lasts.
func (b *formBudget) Read(p []byte) (int, error) {
	if b.read-b.files > b.limit {
		return 0, errFormTooLarge
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// Close closes the body.
func (b *formBudget) Close() error { return b.r.Close() }

// formReadError is the answer to a multipart body that could not be
// read: 413 past a limit, 400 otherwise.
func formReadError(err error, limit int64) error {
	var tooLarge *http.MaxBytesError
	var keep keepError
	switch {
	case errors.As(err, &keep):
		return fmt.Errorf("receive an upload: %w", keep.err) // a 500
	case errors.Is(err, errFormTooLarge):
		return errStatus(http.StatusRequestEntityTooLarge, "The form is too large.")
	case errors.Is(err, errFileTooLarge) || errors.As(err, &tooLarge):
		return errStatus(http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is larger than the %s allowed.", byteSize(limit)))
	}
	return errStatus(http.StatusBadRequest, "The form could not be read.")
}

// keepError is the server failing to keep an upload (no temporary
// directory, a full disk): its error, not the client's.
type keepError struct{ err error }

func (k keepError) Error() string { return k.err.Error() }

// countingWriter adds what it writes to *n; its errors are keepErrors.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	if err != nil {
		err = keepError{err}
	}
	return n, err
}

// receive copies a file part into a temporary file, at most limit bytes
// of it, and sniffs its type from its first bytes; it adds the bytes it
// writes to *written as it goes. A part of no bytes is no upload (nil).
func receive(p io.Reader, limit int64, written *int64) (_ *upload, err error) {
	tmp, err := os.CreateTemp("", "upload-*")
	if err != nil {
		return nil, keepError{err}
	}
	u := &upload{File: tmp}
	defer func() {
		if err != nil || u.Size == 0 {
			u.Close()
		}
	}()
	if fp, ok := p.(interface{ FileName() string }); ok {
		u.Name = storage.CleanName(fp.FileName())
	}
	n, err := io.Copy(countingWriter{tmp, written}, io.LimitReader(p, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, errFileTooLarge
	}
	u.Size = n
	if n == 0 {
		return nil, nil
	}
	head := make([]byte, storage.SniffLen)
	m, err := tmp.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, keepError{err}
	}
	u.ContentType = storage.Sniff(head[:m])
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, keepError{err}
	}
	return u, nil
}

// byteSize writes n bytes as people read it: 10 MiB, 512 KiB, 100 bytes.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<20)), ".0") + " MiB"
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
