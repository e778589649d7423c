package web_test

import "testing"

// in is v making its requests for the subtest t, so that a failed check
// stops t and not the test that made v. It shares v's cookies: run such
// subtests one after another, not in parallel.
func (v *visitor) in(t *testing.T) *visitor {
	s := *v.s
	s.t = t
	return &visitor{s: &s, cookies: v.cookies, addr: v.addr, header: v.header}
}
