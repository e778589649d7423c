package testenv

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/app"
)

// FormFile is a file a browser sends with a form: its field, the name
// of the file on the visitor's computer, and its bytes.
type FormFile struct {
	Field, Name string
	Data        []byte
}

// MultipartPost is the request a same-origin page sends for a form with
// file inputs (multipart/form-data) to path: fields as pairs (name,
// value, name, value…), then files.
func MultipartPost(path string, files []FormFile, fields ...string) *http.Request {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = w.WriteField(fields[i], fields[i+1]) // a bytes.Buffer takes every write
	}
	for _, f := range files {
		part, _ := w.CreateFormFile(f.Field, f.Name)
		_, _ = part.Write(f.Data)
	}
	_ = w.Close()
	r := httptest.NewRequest(http.MethodPost, path, &body)
	r.Header.Set("Content-Type", w.FormDataContentType())
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return r
}

// PNG is a w × h picture of opaque colours, as a PNG file.
func PNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x * 16), G: uint8(y * 16), B: 160, A: 255})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img) // a bytes.Buffer takes every write
	return buf.Bytes()
}

// RunQueued runs the tasks waiting in a's queue as a worker would (a
// test runs none), removing each once done, and returns how many it ran.
// A task that fails fails the test.
func RunQueued(t testing.TB, a *app.App, queue string) int {
	t.Helper()
	inspector := asynq.NewInspectorFromRedisClient(a.Redis)
	tasks, err := inspector.ListPendingTasks(queue)
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	mux := a.Handlers().Mux()
	for _, task := range tasks {
		if err := mux.ProcessTask(context.Background(), asynq.NewTask(task.Type, task.Payload)); err != nil {
			t.Fatalf("task %s: %v", task.Type, err)
		}
		if err := inspector.DeleteTask(queue, task.ID); err != nil {
			t.Fatal(err)
		}
	}
	return len(tasks)
}
