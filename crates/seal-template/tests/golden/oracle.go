// Command oracle records what Go's text/template with Sprig's generic
// functions (minus env, expandenv, getHostByName, as Bitnami Sealed Secrets
// configures it) renders for each case of golden.jsonl.
//
// It reads JSON lines {"name","src","data"} (data inline, as a map) on
// stdin and writes them back with "out" or "err" (Go's error text) filled
// in. golden.jsonl stores the data maps once, in its first line, and cases
// refer to them by name; expand them before feeding cases here. Recorded
// with Debian bookworm's golang-1.19 and golang-github-masterminds-sprig-dev
// 3.2.3:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go run oracle.go < cases.jsonl > recorded.jsonl
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"text/template"

	"github.com/Masterminds/sprig"
)

type record struct {
	Name string            `json:"name"`
	Src  string            `json:"src"`
	Data map[string]string `json:"data,omitempty"`
	Out  *string           `json:"out,omitempty"`
	Err  *string           `json:"err,omitempty"`
	Note string            `json:"note,omitempty"`
}

func main() {
	fm := sprig.GenericFuncMap()
	delete(fm, "env")
	delete(fm, "expandenv")
	delete(fm, "getHostByName")
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			panic(err)
		}
		r.Out, r.Err = nil, nil
		data := r.Data
		if data == nil {
			data = map[string]string{}
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					s := "PANIC"
					r.Err = &s
				}
			}()
			t, err := template.New(r.Name).Funcs(fm).Parse(r.Src)
			if err != nil {
				s := err.Error()
				r.Err = &s
				return
			}
			var b bytes.Buffer
			err = t.Execute(&b, data)
			o := b.String()
			if err != nil {
				s := err.Error()
				r.Err = &s
				return
			}
			r.Out = &o
		}()
		enc.Encode(r)
	}
}
