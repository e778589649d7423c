package session

import (
	"bytes"
	"encoding/gob"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// notScalar is a value type the JSON form does not know; like any type
// a session holds under scs, it is registered with gob.
type notScalar struct{ A, B int }

func TestCodecRoundTrips(t *testing.T) {
	gob.Register(notScalar{})
	deadline := time.Date(2026, 11, 26, 8, 0, 0, 123456789, time.UTC)
	when := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600))
	tests := []struct {
		name   string
		values map[string]any
		json   bool
	}{
		{"empty", map[string]any{}, true},
		{"every scalar type", map[string]any{
			"user_id": int64(42), "count": 7, "name": "Zoë ☃ \x00", "ok": true, "ratio": 0.25,
			"raw": []byte{0, 1, 0xff}, "none": []byte{}, "when": when, "neg": int64(math.MinInt64),
		}, true},
		{"a value of another type goes to gob", map[string]any{"user_id": int64(1), "thing": notScalar{1, 2}}, false},
		{"NaN goes to gob", map[string]any{"x": math.NaN()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := codec{}.Encode(deadline, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.HasPrefix(b, []byte(jsonMarker)); got != tt.json {
				t.Errorf("encoded as JSON: %v, want %v", got, tt.json)
			}
			d, values, err := codec{}.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Equal(deadline) {
				t.Errorf("deadline = %v, want %v", d, deadline)
			}
			if len(values) != len(tt.values) {
				t.Fatalf("decoded %v, want %v", values, tt.values)
			}
			for k, want := range tt.values {
				got := values[k]
				if reflect.TypeOf(got) != reflect.TypeOf(want) {
					t.Errorf("%s: type %T, want %T", k, got, want)
					continue
				}
				switch want := want.(type) {
				case time.Time:
					if !got.(time.Time).Equal(want) {
						t.Errorf("%s = %v, want %v", k, got, want)
					}
				case float64:
					if g := got.(float64); g != want && !(math.IsNaN(g) && math.IsNaN(want)) {
						t.Errorf("%s = %v, want %v", k, got, want)
					}
				default:
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s = %#v, want %#v", k, got, want)
					}
				}
			}
		})
	}
}

// TestCodecReadsGobSessions: sessions saved with scs's gob codec, as every
// session was before this codec, still read.
func TestCodecReadsGobSessions(t *testing.T) {
	deadline := time.Now().Add(time.Hour).UTC()
	old, err := scs.GobCodec{}.Encode(deadline, map[string]any{"user_id": int64(9), "_flashes": "[]"})
	if err != nil {
		t.Fatal(err)
	}
	d, values, err := codec{}.Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Equal(deadline) || values["user_id"] != int64(9) || values["_flashes"] != "[]" {
		t.Errorf("decoded %v %v", d, values)
	}
	for _, bad := range []string{
		jsonMarker + "{not json",
		jsonMarker + `{"d":"2026-01-01T00:00:00Z","v":{"x":{"z":1}}}`, // a type this version does not know
		"\x7fnot gob",
	} {
		if _, _, err := (codec{}).Decode([]byte(bad)); !errors.Is(err, errUnreadable) {
			t.Errorf("Decode(%q) error = %v, want errUnreadable", bad, err)
		}
	}
}

// TestCodecKeepsANilByteSlice: a nil []byte reads back as an empty one,
// not as a missing key.
func TestCodecKeepsANilByteSlice(t *testing.T) {
	b, err := codec{}.Encode(time.Now(), map[string]any{"k": []byte(nil)})
	if err != nil {
		t.Fatal(err)
	}
	_, values, err := codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := values["k"].([]byte); !ok || len(v) != 0 {
		t.Errorf("a nil []byte read back as %#v", values["k"])
	}
}
