package emitter_test

import (
	"encoding/json"
	"reflect"
)

// equalJSON reports whether a and b have the same JSON form, so []any{} from a decoder and a
// literal compare equal regardless of the numeric types inside.
func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return false
	}
	var va, vb any
	if json.Unmarshal(ja, &va) != nil || json.Unmarshal(jb, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
