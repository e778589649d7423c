package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/scs/v2"
)

// codec turns session data into the bytes the store keeps.
//
// scs's default, gob, builds its decoder anew for every session it reads
// (a gob stream describes its types before its values), which cost a
// signed-in request as much as the rest of its session handling. Session
// values are nearly always strings, integers, booleans, floats, bytes or
// times, so this codec writes those as JSON tagged with their Go type,
// and falls back to gob for a session holding anything else. It reads
// both, so sessions written by gob (including those saved before it was
// used) stay readable.
type codec struct{}

var _ scs.Codec = codec{}

// jsonMarker starts a JSON-encoded session. No gob stream starts with a
// zero byte (it would be a message of length zero), so the two can never
// be confused.
const jsonMarker = "\x00j"

// jsonSession is the JSON form of a session.
type jsonSession struct {
	Deadline time.Time            `json:"d"`
	Values   map[string]jsonValue `json:"v"`
}

// jsonValue holds one session value in the field of its Go type, so it
// reads back as the same type (JSON alone would turn an int64 into a
// float64).
type jsonValue struct {
	String  *string    `json:"s,omitempty"`
	Int     *int       `json:"n,omitempty"`
	Int64   *int64     `json:"i,omitempty"`
	Bool    *bool      `json:"b,omitempty"`
	Float64 *float64   `json:"f,omitempty"`
	Bytes   *[]byte    `json:"y,omitempty"`
	Time    *time.Time `json:"t,omitempty"`
}

func toJSONValue(v any) (jsonValue, bool) {
	switch v := v.(type) {
	case string:
		return jsonValue{String: &v}, true
	case int:
		return jsonValue{Int: &v}, true
	case int64:
		return jsonValue{Int64: &v}, true
	case bool:
		return jsonValue{Bool: &v}, true
	case float64:
		return jsonValue{Float64: &v}, true
	case []byte:
		if v == nil {
			v = []byte{} // JSON would write null, which reads back as no value
		}
		return jsonValue{Bytes: &v}, true
	case time.Time:
		return jsonValue{Time: &v}, true
	}
	return jsonValue{}, false
}

func (j jsonValue) value() (any, bool) {
	switch {
	case j.String != nil:
		return *j.String, true
	case j.Int != nil:
		return *j.Int, true
	case j.Int64 != nil:
		return *j.Int64, true
	case j.Bool != nil:
		return *j.Bool, true
	case j.Float64 != nil:
		return *j.Float64, true
	case j.Bytes != nil:
		return *j.Bytes, true
	case j.Time != nil:
		return *j.Time, true
	}
	return nil, false
}

// Encode implements scs.Codec.
func (codec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	s := jsonSession{Deadline: deadline, Values: make(map[string]jsonValue, len(values))}
	for k, v := range values {
		jv, ok := toJSONValue(v)
		if !ok {
			return scs.GobCodec{}.Encode(deadline, values)
		}
		s.Values[k] = jv
	}
	b, err := json.Marshal(s)
	if err != nil { // a NaN or an infinity, which JSON cannot hold
		return scs.GobCodec{}.Encode(deadline, values)
	}
	return append([]byte(jsonMarker), b...), nil
}

// errUnreadable marks stored session data this codec cannot decode.
var errUnreadable = errors.New("unreadable session data")

// Decode implements scs.Codec. Data it cannot read fails with
// errUnreadable, never with a partial session.
func (codec) Decode(b []byte) (time.Time, map[string]any, error) {
	rest, ok := bytes.CutPrefix(b, []byte(jsonMarker))
	if !ok {
		d, values, err := scs.GobCodec{}.Decode(b)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("%w: %v", errUnreadable, err)
		}
		return d, values, nil
	}
	var s jsonSession
	if err := json.Unmarshal(rest, &s); err != nil {
		return time.Time{}, nil, fmt.Errorf("%w: %v", errUnreadable, err)
	}
	values := make(map[string]any, len(s.Values))
	for k, jv := range s.Values {
		v, ok := jv.value()
		if !ok {
			return time.Time{}, nil, fmt.Errorf("%w: value %q has no type this version knows", errUnreadable, k)
		}
		values[k] = v
	}
	return s.Deadline, values, nil
}
