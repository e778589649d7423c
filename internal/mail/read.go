// Reading the outbox back, for the development mail viewer
// (internal/web/devmail.go): the messages written, newest first, and one
// of them decoded — headers, text and HTML parts, attachments — with the
// standard library's MIME readers.

package mail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"slices"
	"strings"
	"time"
)

// MaxReadBytes bounds how much of one outbox file is read: a larger file
// is refused (ErrTooLarge), not loaded into memory.
const MaxReadBytes = 10 << 20

// maxHeaderBytes bounds the header block read for a listing.
const maxHeaderBytes = 64 << 10

// maxPartDepth bounds how deeply multiparts may nest.
const maxPartDepth = 8

var (
	// ErrNoMessage is returned for a name the outbox directory does not
	// list as a message.
	ErrNoMessage = errors.New("no such message in the outbox")
	// ErrTooLarge is returned for a file over MaxReadBytes.
	ErrTooLarge = errors.New("message too large to read")
	// ErrUnreadable is returned for a file that is not a mail message.
	ErrUnreadable = errors.New("not a readable mail message")
)

// Entry is one message of the outbox as a listing shows it.
type Entry struct {
	// ID is the file's name in the outbox directory.
	ID string
	// Date is the message's Date header, else the file's time.
	Date              time.Time
	From, To, Subject string
	Size              int64
	// Problem says why the headers could not be read; empty when they were.
	Problem string
}

// Decoded is one message of the outbox, decoded.
type Decoded struct {
	Entry
	Cc, ReplyTo, MessageID string
	// Header is every header field, decoded, sorted by name.
	Header []HeaderField
	// Text and HTML are the first text/plain and text/html parts that are
	// not attachments, decoded to UTF-8.
	Text, HTML  string
	Attachments []Attachment
	// BodyProblem, when set, says what of the body could not be decoded;
	// what came before it is kept.
	BodyProblem string
}

// HeaderField is one header line of a message.
type HeaderField struct{ Name, Value string }

// Attachment is a part that is neither the text nor the HTML.
type Attachment struct {
	Name, Type string
	Size       int64
}

// List returns up to limit messages of the outbox, newest first, and how
// many there are. A missing directory holds none.
func (o *Outbox) List(limit int) ([]Entry, int, error) {
	files, err := o.files()
	if err != nil {
		return nil, 0, err
	}
	type file struct {
		name string
		info fs.FileInfo
	}
	var all []file
	for _, e := range files {
		info, err := e.Info()
		if err != nil {
			continue // gone since the directory was read
		}
		all = append(all, file{e.Name(), info})
	}
	// Newest first; files written in the same instant by name, which
	// starts with the time they were written.
	slices.SortFunc(all, func(a, b file) int {
		if c := b.info.ModTime().Compare(a.info.ModTime()); c != 0 {
			return c
		}
		return strings.Compare(b.name, a.name)
	})
	total := len(all)
	all = all[:min(limit, total)]
	if len(all) == 0 {
		return nil, total, nil
	}
	root, err := os.OpenRoot(o.Dir)
	if err != nil {
		return nil, 0, fmt.Errorf("outbox: %w", err)
	}
	defer root.Close()
	entries := make([]Entry, 0, len(all))
	for _, f := range all {
		e := Entry{ID: f.name, Date: f.info.ModTime(), Size: f.info.Size()}
		if err := readHeader(root, &e); err != nil {
			e.Problem = err.Error()
		}
		entries = append(entries, e)
	}
	return entries, total, nil
}

// readHeader fills e from the header block of its file in root.
func readHeader(root *os.Root, e *Entry) error {
	f, err := root.Open(e.ID)
	if err != nil {
		return err
	}
	defer f.Close()
	msg, err := netmail.ReadMessage(io.LimitReader(f, maxHeaderBytes))
	if err != nil {
		return fmt.Errorf("headers unreadable: %w", err)
	}
	e.fill(msg.Header)
	return nil
}

// Source returns the file of message id, as written. id must be a name
// the outbox directory lists as a message (nothing else is opened: no
// path, no hidden or temporary file); a file over MaxReadBytes is
// refused.
func (o *Outbox) Source(id string) ([]byte, error) {
	b, _, err := o.read(id)
	return b, err
}

// read returns the file of message id (see Source) and its time.
func (o *Outbox) read(id string) ([]byte, time.Time, error) {
	files, err := o.files()
	if err != nil {
		return nil, time.Time{}, err
	}
	if !slices.ContainsFunc(files, func(e fs.DirEntry) bool { return e.Name() == id }) {
		return nil, time.Time{}, fmt.Errorf("%q: %w", id, ErrNoMessage)
	}
	// Opened within the directory, so that not even a name the listing
	// had could lead out of it.
	root, err := os.OpenRoot(o.Dir)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("outbox: %w", err)
	}
	defer root.Close()
	f, err := root.Open(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, fmt.Errorf("%q: %w", id, ErrNoMessage) // deleted meanwhile
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("outbox: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("outbox: %w", err)
	}
	if info.Size() > MaxReadBytes {
		return nil, time.Time{}, fmt.Errorf("%s is over %d MiB: %w", id, MaxReadBytes>>20, ErrTooLarge)
	}
	// Read one byte past the limit: a file that grew since is caught too.
	b, err := io.ReadAll(io.LimitReader(f, MaxReadBytes+1))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("outbox: read %s: %w", id, err)
	}
	if len(b) > MaxReadBytes {
		return nil, time.Time{}, fmt.Errorf("%s is over %d MiB: %w", id, MaxReadBytes>>20, ErrTooLarge)
	}
	return b, info.ModTime(), nil
}

// Read returns message id decoded (see Source for which ids are read).
// A file whose headers cannot be read is ErrUnreadable; a body that
// cannot be decoded in full is returned with what could be, and the
// problem in Decoded.BodyProblem.
func (o *Outbox) Read(id string) (*Decoded, error) {
	b, written, err := o.read(id)
	if err != nil {
		return nil, err
	}
	d, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	d.ID = id
	if d.Date.IsZero() {
		d.Date = written // no Date header, or none that parses
	}
	return d, nil
}

// Decode decodes one message as Read does, from its bytes: ID is empty,
// and Date is zero when the message has no Date header that parses.
func Decode(b []byte) (*Decoded, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	d := &Decoded{Entry: Entry{Size: int64(len(b))}}
	d.fill(msg.Header)
	d.Cc = addresses(msg.Header, "Cc")
	d.ReplyTo = addresses(msg.Header, "Reply-To")
	d.MessageID = msg.Header.Get("Message-ID")
	for name, values := range msg.Header {
		for _, v := range values {
			d.Header = append(d.Header, HeaderField{name, decodeHeader(v)})
		}
	}
	slices.SortStableFunc(d.Header, func(a, b HeaderField) int { return strings.Compare(a.Name, b.Name) })
	if err := d.walk(msg.Header, msg.Body, 0); err != nil {
		d.BodyProblem = err.Error()
	}
	return d, nil
}

// files lists the outbox's messages: its regular .eml files, without the
// hidden temporary ones Send writes first.
func (o *Outbox) files() ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return slices.DeleteFunc(entries, func(e fs.DirEntry) bool {
		return !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".eml")
	}), nil
}

// fill sets e's fields from a message's header.
func (e *Entry) fill(h netmail.Header) {
	e.From = addresses(h, "From")
	e.To = addresses(h, "To")
	e.Subject = decodeHeader(h.Get("Subject"))
	if date, err := h.Date(); err == nil {
		e.Date = date
	}
}

// addresses returns the address list of header key as people write it
// (Ada <ada@example.com>, bob@example.com); a list it cannot parse is
// returned decoded but as written.
func addresses(h netmail.Header, key string) string {
	list, err := h.AddressList(key)
	if err != nil {
		return decodeHeader(h.Get(key))
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
		if a.Name != "" {
			out[i] = a.Name + " <" + a.Address + ">"
		}
	}
	return strings.Join(out, ", ")
}

// decodeHeader decodes a header's RFC 2047 encoded words; a value it
// cannot decode is kept as written.
func decodeHeader(v string) string {
	decoded, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return decoded
}

// header is what walk needs of a message's or a part's header.
type header interface{ Get(key string) string }

// walk decodes one part (the message itself at depth 0) into d: the
// first text and HTML parts, the rest as attachments.
func (d *Decoded) walk(h header, body io.Reader, depth int) error {
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mediaType = "text/plain" // RFC 2045's default
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= maxPartDepth {
			return fmt.Errorf("parts nested more than %d deep", maxPartDepth)
		}
		// NextPart undoes quoted-printable itself.
		parts := multipart.NewReader(body, params["boundary"])
		for {
			p, err := parts.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", mediaType, err)
			}
			if err := d.walk(p.Header, p, depth+1); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if disposition != "attachment" && name == "" {
		text := &d.Text
		if mediaType == "text/html" {
			text = &d.HTML
		}
		if (mediaType == "text/plain" || mediaType == "text/html") && *text == "" {
			b, err := io.ReadAll(body)
			*text = strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\r\n", "\n")
			if err != nil {
				return fmt.Errorf("%s part: %w", mediaType, err)
			}
			return nil
		}
	}
	n, err := io.Copy(io.Discard, body)
	d.Attachments = append(d.Attachments, Attachment{Name: decodeHeader(name), Type: mediaType, Size: n})
	if err != nil {
		return fmt.Errorf("%s part: %w", mediaType, err)
	}
	return nil
}
