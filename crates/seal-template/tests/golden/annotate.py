import json, sys
over = {
 "{{ 1i }}": ("complex constants are not supported", None, "template: t:1:3: executing \"t\" at <1i>: complex numbers are not supported"),
 "{{ 0i }}": ("complex constants are not supported", None, "template: t:1:3: executing \"t\" at <0i>: complex numbers are not supported"),
 "{{ define \"r\" }}{{ template \"r\" }}{{ end }}{{ template \"r\" }}": ("template depth bounded at 100, Go's is 100000", None, "template: t:1:28: executing \"r\" at <{{template \"r\"}}>: exceeded maximum template depth (100)"),
 "{{ with .empty }}y{{ else with .user }}w:{{ . }}{{ end }}": ("{{else with}} is Go 1.23+, which upstream is built with", "w:admin", None),
 "{{ range 3 }}{{ . }}{{ end }}": ("range over int is Go 1.22+", "012", None),
 "{{ range $i := 3 }}{{ $i }}{{ end }}": ("range over int is Go 1.22+", "012", None),
 "{{ range $i, $j := 3 }}{{ end }}": ("range over int is Go 1.22+", None, "template: t:1:19: executing \"t\" at <3>: can't use 3 to iterate over more than one variable"),
 "{{ range 0 }}x{{ else }}zero{{ end }}": ("range over int is Go 1.22+", "zero", None),
 "{{ range -2 }}x{{ else }}neg{{ end }}": ("range over int is Go 1.22+", "neg", None),
}
# Random or time-dependent in Go too: replayed for shape only, elsewhere.
SKIP = {"{{ now }}", "{{ uuidv4 }}", "{{ randAlphaNum 10 }}"}
used = set()
out = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["src"] in over:
        note, ro, re_ = over[r["src"]]
        r["note"] = note
        if ro is not None: r["rust_out"] = ro
        if re_ is not None: r["rust_err"] = re_
        used.add(r["src"])
    if r["src"] in SKIP:
        r["note"] = "random or time-dependent: only its shape is checked (tests.rs, sprig_cases.yaml)"
        r["skip"] = True
    out.append(r)
assert used == set(over), set(over) - used
# Shared data sets are written once, in a first line, and referenced by name.
sets = {}
for r in out:
    key = json.dumps(r.get("data") or {}, sort_keys=True)
    if key not in sets:
        sets[key] = "d%d" % len(sets)
    r["data"] = sets[key]
with open(sys.argv[2], "w") as f:
    f.write(json.dumps({"datasets": {v: json.loads(k) for k, v in sets.items()}}, ensure_ascii=False) + "\n")
    for r in out:
        f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
