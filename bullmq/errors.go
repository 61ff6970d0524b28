package bullmq

import (
	"errors"
	"fmt"
)

// ErrJobNotFound is returned when a job hash does not exist.
var ErrJobNotFound = errors.New("bullmq: job not found")

// unrecoverableError marks a processor error that must not be retried.
type unrecoverableError struct{ err error }

func (e *unrecoverableError) Error() string { return e.err.Error() }
func (e *unrecoverableError) Unwrap() error { return e.err }

// Unrecoverable wraps err so the worker fails the job at once, without retries, as Node's
// UnrecoverableError does. The job's failedReason is err's message.
func Unrecoverable(err error) error {
	if err == nil {
		return nil
	}
	return &unrecoverableError{err: err}
}

// IsUnrecoverable reports whether err, or an error it wraps, was made by Unrecoverable.
func IsUnrecoverable(err error) bool {
	var u *unrecoverableError
	return errors.As(err, &u)
}

// ScriptError is a negative return code of a BullMQ script.
type ScriptError struct {
	Code    int
	JobID   string
	Command string
}

func (e *ScriptError) Error() string {
	return fmt.Sprintf("bullmq: %s job %s: %s (code %d)", e.Command, e.JobID,
		scriptCodeText(e.Code), e.Code)
}

func scriptCodeText(code int) string {
	switch code {
	case -1:
		return "job does not exist"
	case -2:
		return "lock is missing"
	case -3:
		return "job is not in the expected state"
	case -4:
		return "job has pending dependencies"
	case -5:
		return "parent job does not exist"
	case -6:
		return "lock is held by another worker"
	case -7:
		return "job is already attached to another parent"
	case -8:
		return "job is the current iteration of a job scheduler"
	case -9:
		return "job has failed children"
	case -10:
		return "job scheduler iteration already exists"
	case -11:
		return "job scheduler found no free slot"
	}
	return "unknown error"
}
