package validation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/pmezard/go-difflib/difflib"
)

// goFieldDiff renders the unified diff that upstream prints when an update
// changes an immutable part of an object. Upstream diffs its internal types,
// whose JSON form has Go field names and no omitempty; this reproduces that
// rendering from the versioned types.
func goFieldDiff(a, b any) string {
	aStr, aErr := internalStyleJSON(a)
	bStr, bErr := internalStyleJSON(b)
	if aErr != nil || bErr != nil {
		aStr, bStr = fmt.Sprintf("%#v", a), fmt.Sprintf("%#v", b)
	}
	out, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:       difflib.SplitLines(aStr),
		B:       difflib.SplitLines(bStr),
		Context: 3,
	})
	if err != nil {
		return fmt.Sprintf("error generating diff: %v", err)
	}
	return out
}

func internalStyleJSON(v any) (string, error) {
	out, err := json.MarshalIndent(goFieldTree(reflect.ValueOf(v)), "", " ")
	return string(out), err
}

// orderedObject is a JSON object whose keys keep struct field order.
type orderedObject []struct {
	key   string
	value any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(kv.key)
		buf.Write(k)
		buf.WriteByte(':')
		v, err := json.Marshal(kv.value)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

var jsonMarshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()

// goFieldTree converts v into values that marshal like an untagged Go struct:
// every exported field under its Go name, zero values included. Types with
// their own JSON form (quantities, times, int-or-strings) keep it.
func goFieldTree(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Type().Implements(jsonMarshalerType) || reflect.PointerTo(v.Type()).Implements(jsonMarshalerType) {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return nil
		}
		if v.Kind() == reflect.Pointer || v.Type().Implements(jsonMarshalerType) {
			return v.Interface()
		}
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		return p.Interface()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return goFieldTree(v.Elem())
	case reflect.Struct:
		var obj orderedObject
		appendStructFields(&obj, v)
		return obj
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Bytes()
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = goFieldTree(v.Index(i))
		}
		return out
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = goFieldTree(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i].Interface()) < fmt.Sprint(keys[j].Interface()) })
		var obj orderedObject
		for _, k := range keys {
			obj = append(obj, struct {
				key   string
				value any
			}{fmt.Sprint(k.Interface()), goFieldTree(v.MapIndex(k))})
		}
		return obj
	}
	return v.Interface()
}

func appendStructFields(obj *orderedObject, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct && !f.Type.Implements(jsonMarshalerType) {
			appendStructFields(obj, v.Field(i))
			continue
		}
		*obj = append(*obj, struct {
			key   string
			value any
		}{f.Name, goFieldTree(v.Field(i))})
	}
}
