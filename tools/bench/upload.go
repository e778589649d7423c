package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// uploadClients is how many signed-in users upload a picture at once.
const uploadClients = 10

// uploadLimit is UPLOAD_MAX_BYTES's default, which the web process runs
// with: the picture is made as large as a file may be, and no larger.
const uploadLimit = 10 << 20

// uploadWidth is the width of the bench's picture; its height is as many
// rows as fit under uploadLimit.
const uploadWidth = 2048

// uploadEmail is the address of the i-th account of the upload run.
func uploadEmail(i int) string { return fmt.Sprintf("upload-%d@example.com", i) }

// noisePNG makes an opaque picture of random pixels, encoded without
// compression, of at most limit bytes (within 32 KiB of it). Noise is what
// a photograph's bytes look like to a compressor, and an uncompressed
// PNG's size is set by its dimensions alone, so the file is as large as
// an upload may be while its pixels stay far below images.MaxPixels: the
// cost measured is the bytes received and the picture decoded and
// re-encoded, not a decompression bomb (which the pixel limit refuses
// before decoding). Opaque, the web process re-encodes it as a JPEG, as
// it would a photograph; the seed is fixed, so every run sends the same
// file.
func noisePNG(limit int) ([]byte, error) {
	// Each row is a filter byte and three bytes a pixel (an opaque RGBA
	// image is written as 8-bit RGB); the chunks and zlib's stored blocks
	// add under 16 KiB at this size.
	height := (limit - 16<<10) / (3*uploadWidth + 1)
	img := image.NewRGBA(image.Rect(0, 0, uploadWidth, height))
	rnd := rand.New(rand.NewChaCha8([32]byte{'l', 'a', 'u', 'n', 'c', 'h', 'k', 'i', 't'}))
	for i := 0; i < len(img.Pix); i += 4 {
		v := rnd.Uint32()
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = byte(v), byte(v>>8), byte(v>>16), 0xff
	}
	var buf bytes.Buffer
	buf.Grow(limit)
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&buf, img); err != nil {
		return nil, err
	}
	if buf.Len() > limit || buf.Len() < limit-32<<10 {
		return nil, fmt.Errorf("the bench's picture is %d bytes, not just under %d", buf.Len(), limit)
	}
	return buf.Bytes(), nil
}

// profileUpload is the profile form with a picture, as a browser sends
// it: the name field and the file field avatar, multipart. The picture's
// bytes are shared by every upload; only the form's head and tail are
// each request's own.
type profileUpload struct {
	head, tail  []byte
	picture     []byte
	contentType string
}

// newProfileUpload lays out the form around picture.
func newProfileUpload(name string, picture []byte) (*profileUpload, error) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if err := mw.WriteField("name", name); err != nil {
		return nil, err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="avatar"; filename="picture.png"`)
	h.Set("Content-Type", "image/png")
	if _, err := mw.CreatePart(h); err != nil {
		return nil, err
	}
	// What multipart.Writer.Close writes after a part: the boundary that
	// ends the form.
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	return &profileUpload{head: head.Bytes(), tail: []byte(tail), picture: picture, contentType: mw.FormDataContentType()}, nil
}

// request is the POST of the form to base's profile page with cookie.
func (u *profileUpload) request(base string, cookie *http.Cookie) *http.Request {
	body := io.MultiReader(bytes.NewReader(u.head), bytes.NewReader(u.picture), bytes.NewReader(u.tail))
	r, _ := http.NewRequest(http.MethodPost, base+"/user/profile", body)
	r.ContentLength = int64(len(u.head) + len(u.picture) + len(u.tail))
	r.Header.Set("Content-Type", u.contentType)
	r.AddCookie(cookie)
	return r
}

// uploadResult is the concurrent upload run.
type uploadResult struct {
	n     int
	bytes int // of each picture
	// beforeKiB is the web process's RSS just before the uploads, once
	// each uploader has loaded the profile page; peakKiB its peak during
	// them.
	beforeKiB, peakKiB int64
	wall, slowest      time.Duration
	// seeOther is how many answers were 303 (the profile saved, and the
	// browser sent back to it); failed is the rest, errors included.
	seeOther, failed int
	firstErr         error
	// stored is how many objects STORAGE_DIR holds afterwards: one
	// picture an upload (the copies are the worker's, which is not run).
	stored int
}

// ok is whether every upload was answered 303 and stored its picture.
func (u uploadResult) ok() bool { return u.seeOther == u.n && u.stored == u.n }

// uploadBurst has uploadClients signed-in users, each from a loopback
// address of its own (as many people, and no post budget of an address
// shared), post the profile form with a picture of just under
// UPLOAD_MAX_BYTES at the same moment, and records the web process's
// RSS before and its peak during the uploads, how long they took and
// what they were answered. The web process runs on its embedded
// defaults: local storage, in a directory of this run. The users sign in
// on another web process of the same database (sessions are kept
// there), as they would have before they came to change their picture:
// so the figure is the uploads', not that of ten password hashes just
// before them.
func (b *bench) uploadBurst(ctx context.Context) error {
	picture, err := noisePNG(uploadLimit)
	if err != nil {
		return err
	}
	dbURL := b.sqliteDB()
	if err := b.prepareDB(ctx, dbURL); err != nil {
		return err
	}
	env := b.env("127.0.0.1:0", dbURL, "database")
	for i := range uploadClients {
		if err := b.manage(ctx, env, benchPassword+"\n", "user", "create", "--email", uploadEmail(i), "--password-stdin"); err != nil {
			return err
		}
	}
	storageDir := filepath.Join(b.dir, "uploads")
	cookies, err := b.signInElsewhere(dbURL, storageDir)
	if err != nil {
		return err
	}
	s, err := b.startWeb(dbURL, "database", "STORAGE_DIR="+storageDir)
	if err != nil {
		return err
	}
	res, err := uploadAll(ctx, s, cookies, picture)
	if stopErr := s.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	res.stored = countObjects(storageDir)
	b.rep.upload = res
	b.logf("%d concurrent uploads of a %.1f MiB picture: %s, RSS %s before, peak %s; %d answered 303, %d failed (first: %v); %d pictures stored",
		res.n, float64(res.bytes)/(1<<20), res.wall.Round(time.Millisecond), mib(res.beforeKiB), mib(res.peakKiB), res.seeOther, res.failed, res.firstErr, res.stored)
	return nil
}

// signInElsewhere signs the upload accounts in on a web process of its
// own and stops it, returning their session cookies.
func (b *bench) signInElsewhere(dbURL, storageDir string) ([]*http.Cookie, error) {
	s, err := b.startWeb(dbURL, "database", "STORAGE_DIR="+storageDir)
	if err != nil {
		return nil, err
	}
	cookies := make([]*http.Cookie, uploadClients)
	for i := range uploadClients {
		if cookies[i], err = signIn(s.base, uploadEmail(i), loopback(2+i)); err != nil {
			_ = s.stop()
			return nil, fmt.Errorf("upload run: %w", err)
		}
	}
	return cookies, s.stop()
}

// uploadAll has each uploader load the profile page on s, then sends
// their uploads at once, sampling s's RSS from just before the first to
// after the last.
func uploadAll(ctx context.Context, s *site, cookies []*http.Cookie, picture []byte) (uploadResult, error) {
	res := uploadResult{n: uploadClients, bytes: len(picture)}
	forms := make([]*profileUpload, uploadClients)
	clients := make([]*http.Client, uploadClients)
	for i := range uploadClients {
		clients[i] = newClient(loadSpec{localAddr: func(int) net.IP { return loopback(2 + i) }}, 0)
		clients[i].Timeout = 2 * time.Minute
		defer clients[i].CloseIdleConnections()
		page, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/user/profile", nil)
		page.AddCookie(cookies[i])
		if err := doOne(clients[i], page, http.StatusOK); err != nil {
			return res, fmt.Errorf("upload run: the profile page with uploader %d's session: %w", i, err)
		}
		var err error
		if forms[i], err = newProfileUpload(fmt.Sprintf("Uploader %d", i), picture); err != nil {
			return res, err
		}
	}
	var err error
	if res.beforeKiB, err = s.rssKiB(); err != nil {
		return res, err
	}
	took := make([]time.Duration, uploadClients)
	statuses := make([]int, uploadClients)
	sampler := samplePeak(s.proc)
	start := time.Now()
	errs := parallel(uploadClients, func(i int) error {
		t0 := time.Now()
		defer func() { took[i] = time.Since(t0) }()
		r, err := clients[i].Do(forms[i].request(s.base, cookies[i]).WithContext(ctx))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
		statuses[i] = r.StatusCode
		if r.StatusCode != http.StatusSeeOther {
			return fmt.Errorf("POST /user/profile with a picture: status %d, want 303", r.StatusCode)
		}
		return nil
	})
	res.wall = time.Since(start)
	res.peakKiB = sampler.finish()
	res.slowest = slices.Max(took)
	for i, err := range errs {
		if err == nil && statuses[i] == http.StatusSeeOther {
			res.seeOther++
			continue
		}
		res.failed++
		if res.firstErr == nil {
			res.firstErr = err
		}
	}
	return res, nil
}

// countObjects counts the files under dir, its temporary ones aside.
func countObjects(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".tmp" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}
