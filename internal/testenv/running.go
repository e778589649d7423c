package testenv

import (
	"syscall"
	"testing"
)

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process: SIGKILL for a crash, SIGSTOP and
// SIGCONT to freeze and thaw it.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v", sig, err)
	}
}

// PID is the process's ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }
