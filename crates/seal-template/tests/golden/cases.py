import json, sys
D = {"user":"admin","pass":"s3cr3t","a":"x","num":"42","json":"{\"k\":[1,2.5,\"s\"],\"m\":{\"z\":null},\"b\":true}",
     "csv":"a,b,c","multi":"line1\nline2","host":"db.example.com", "empty":"", "b64":"aGVsbG8=", "spaces":"  hi  ",
     ".dockerconfigjson":"{\"auths\":{}}", "tls.crt":"CERT", "pct":"100%"}
cases = []
def c(src, data=D, name="t", note=None):
    r = {"name": name, "src": src, "data": data}
    if note: r["note"] = note
    cases.append(r)

# --- basics, text, trim markers, comments
for s in ["plain text", "", "{{ .user }}", "{{.user}}:{{.pass}}", "a {{- .user -}} b", "a  \n {{- .user }}  \n b",
          "a {{ .user -}}\n\n  b", "{{- /* comment */ -}} x", "{{/* c */}}y", "a {{- /* c */}} b", "{{ /* spaced */ }}",
          "{{-3}}", "{{ -3 }}", "{{- -3 -}}", "x{{- 3}}", "{{3 -}}y", "{{ .missing }}", "{{ index . \"missing\" }}",
          "{{ index . \".dockerconfigjson\" }}", "{{ index . \"tls.crt\" }}", "{{ . }}", "{{ $ }}", "{{ .user.x }}",
          "{{ .pct }}", "{{ printf \"%s\" .pct }}", "{{\n.user\n}}", "{{ .user | printf \"%q\" }}", "{{ \"a\" }}{{ `raw\\n` }}",
          "{{ 'a' }}", "{{ '\\n' }}", "{{ 1 }} {{ 1.5 }} {{ 1e3 }} {{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 1_000 }} {{ -0 }} {{ 0b101 }}",
          "{{ 1e21 }} {{ 1.0 }} {{ 123456789.0 }} {{ 0.000001 }} {{ 0.00001 }} {{ 100000.0 }} {{ 1000000.0 }}",
          "{{ true }} {{ false }}", "{{ nil }}", "{{ 9223372036854775807 }}", "{{ 9223372036854775808 }}", "{{ 18446744073709551616 }}",
          "{{ 0x1p4 }}", "{{ 1i }}", "{{ 0i }}", "{{ \"\\x41\\u00e9\\U0001F600\\101\" }}", "{{ \"a\\qb\" }}", "{{ 'ab' }}",
          "{{ .user }", "{{ .user", "{{", "}}", "x }} y", "{{ }}", "{{ | }}", "{{ .user | }}", "{{ (.user }}", "{{ .user) }}",
          "{{ \"unterminated }}", "{{ `raw", "{{ 'x }}", "{{ 3x }}", "{{ @ }}", "{{ .a.b.c }}", "{{ $x }}", "{{ $x := 1 }}{{ $x }}",
          "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "{{ $x = 2 }}", "{{ $ := 1 }}", "{{ $x, $y := 1 }}", "{{ .user 1 }}", "{{ 1 2 }}",
          "{{ \"a\" | printf \"%s-%s\" \"b\" }}", "{{ . | len }}", "{{ .user | 3 }}", "{{ nil | printf \"%v\" }}", "{{ (1) }}", "{{ (.user) }}",
          "{{ (.user).x }}", "{{ ..x }}", "{{ .user.. }}", "{{ true.x }}", "{{ $.user }}", "{{ $.missing }}", "{{ $.user.x }}",
          "{{ .x:=1 }}", "{{ end }}", "{{ else }}", "{{ if }}{{ end }}", "{{ if .user }}", "{{ if .user }}{{ else }}{{ else }}{{ end }}",
          "{{ range }}{{ end }}", "{{ break }}", "{{ continue }}", "{{ range . }}{{ break 1 }}{{ end }}", "{{ define \"x\" }}a{{ end }}{{ template \"x\" }}",
          "{{ template \"nope\" }}", "{{ template .user }}", "{{ block \"b\" . }}[{{ .user }}]{{ end }}", "{{ define \"t\" }}dup{{ end }}body",
          "{{ define \"t\" }}only{{ end }}  ", "{{ define \"r\" }}{{ template \"r\" }}{{ end }}{{ template \"r\" }}",
          "{{ define \"x\" }}{{ .user }}{{ end }}{{ template \"x\" . }}|{{ template \"x\" }}", "{{ define \"x\" }}{{ $ }}{{ end }}{{ template \"x\" \"hi\" }}",
          "{{ define x }}{{ end }}", "{{ define \"a\" }}{{ else }}{{ end }}", "{{ with $x := .user }}{{ $x }}{{ end }}{{ $x }}",
          "line1\nline2 {{ .nope.x }}", "l1\n  {{ index 1 2 }}", "{{ \"%\" | printf }}", "{{ printf \"%d%%\" 5 }}",
          "{{ if }}", "{{ range $i, $v, $w := . }}{{ end }}", "{{ range $i, 1 }}{{ end }}", "{{ $x := 1 | 2 }}", "{{ 1 | true }}",
          "{{ printf \"%s\" | nil }}", "{{ .user | .pass }}", "{{ \"x\" | $ }}", "{{ $x := . }}{{ $x.user }}",
          "{{ with .missing }}yes{{ else }}no{{ end }}", "{{ with .user }}{{ . }}{{ end }}", "{{ with .empty }}y{{ else with .user }}w:{{ . }}{{ end }}",
          "{{ if .missing }}a{{ else if .user }}b{{ else }}c{{ end }}", "{{ if and .user .pass }}both{{ end }}", "{{ if or .missing .empty }}x{{ else }}none{{ end }}",
          "{{ and 1 0 2 }}|{{ or 0 \"\" 3 }}|{{ and }}|{{ or 0 }}|{{ and 1 .missing }}|{{ not .missing }}|{{ not 1 }}|{{ .user | and 1 }}",
          "{{ and 1 (fail \"boom\") }}", "{{ or 1 (fail \"boom\") }}",
          ]:
    c(s)
# range
for s in ["{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", "{{ range . }}[{{ . }}]{{ end }}", "{{ range $v := . }}{{ $v }},{{ end }}",
          "{{ range list 1 2 3 }}{{ . }}{{ else }}empty{{ end }}", "{{ range list }}{{ . }}{{ else }}empty{{ end }}",
          "{{ range .missing }}x{{ else }}none{{ end }}", "{{ range $i, $e := list \"a\" \"b\" }}{{ $i }}:{{ $e }} {{ end }}",
          "{{ range .user }}{{ end }}", "{{ range 3 }}{{ . }}{{ end }}", "{{ range $i := 3 }}{{ $i }}{{ end }}", "{{ range $i, $j := 3 }}{{ end }}",
          "{{ range list 1 2 3 4 }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
          "{{ range $x := list 1 2 }}{{ $y := $x }}{{ $y }}{{ end }}", "{{ $s := \"\" }}{{ range list \"a\" \"b\" }}{{ $s = print $s . }}{{ end }}{{ $s }}",
          "{{ range $k, $v := dict \"b\" 1 \"a\" 2 \"c\" (list 1) }}{{ $k }}={{ $v }} {{ end }}", "{{ range 1.5 }}{{ end }}", "{{ range true }}{{ end }}",
          "{{ range splitList \",\" .csv }}<{{ . }}>{{ end }}", "{{ range $i, $c := split \",\" .csv }}{{ $i }}={{ $c }} {{ end }}",
          "{{ range $k, $v := . }}{{ if eq $k \"num\" }}{{ break }}{{ end }}{{ $k }} {{ end }}",
          "{{ range 0 }}x{{ else }}zero{{ end }}", "{{ range -2 }}x{{ else }}neg{{ end }}", "{{ range (list) }}{{ end }}"]:
    c(s)
# comparisons
for s in ["{{ eq .a \"x\" }} {{ eq .a \"y\" }} {{ eq .a \"y\" \"x\" }} {{ ne .a \"x\" }}", "{{ eq 1 1 }} {{ eq 1 1.0 }}", "{{ eq .missing \"x\" }}",
          "{{ eq .missing nil }}", "{{ eq nil nil }}", "{{ eq (list 1) (list 1) }}", "{{ eq (list) (dict) }}", "{{ eq 1 }}", "{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}",
          "{{ lt 1 \"a\" }}", "{{ lt true false }}", "{{ lt .missing 1 }}", "{{ eq (int64 3) 3 }}", "{{ lt (len .user) 10 }}", "{{ eq true true }}",
          "{{ if eq .user \"admin\" }}is admin{{ end }}", "{{ eq \"a\" 1 }}", "{{ ne 1 2 3 }}", "{{ eq (list 1) 1 }}", "{{ eq 1 (list 1) }}", "{{ eq (dict) nil }}",
          "{{ le 2 1 }}{{ gt 1 2 }}{{ ge 2 2 }}"]:
    c(s)
# builtins
for s in ["{{ len .user }} {{ len . }} {{ len (list 1 2) }}", "{{ len .missing }}", "{{ len 3 }}", "{{ len nil }}",
          "{{ index . \"user\" }} {{ index (list 1 2 3) 1 }} {{ index \"abc\" 1 }}", "{{ index (list 1 2) 5 }}", "{{ index (list 1 2) 2 }}",
          "{{ index (list 1 2) -1 }}", "{{ index (list 1) \"a\" }}", "{{ index . 1 }}", "{{ index 3 1 }}", "{{ index .missing \"a\" }}",
          "{{ index (dict \"a\" (list 1 2)) \"a\" 1 }}", "{{ index (dict \"a\" 1) \"b\" }}", "{{ index (list (list 1 2)) 0 1 }}", "{{ index . }}",
          "{{ index (list 1) nil }}", "{{ index . nil }}", "{{ slice \"abc\" 1 }}", "{{ slice (list 1 2 3) 1 }}", "{{ slice (list 1 2 3) 1 2 }}",
          "{{ slice (list 1 2 3) 2 1 }}", "{{ slice (list) 0 }}", "{{ slice (list 1 2) 0 5 }}",
          "{{ print 1 2 \"a\" \"b\" 3 }}", "{{ print .missing }}", "{{ println 1 \"a\" }}", "{{ print }}", "{{ print nil }}",
          "{{ html \"<a href='x'>&\\\"\" }}", "{{ html .missing }}", "{{ html 1 2 }}", "{{ js \"it's <b> & = \\\\ \\n é\" }}", "{{ urlquery \"a b&c=d/é~\" }}",
          "{{ call .user }}", "{{ call .missing }}", "{{ printf \"%s\" }}", "{{ printf 1 }}", "{{ printf .missing }}", "{{ printf nil }}"]:
    c(s)
# printf
for s in ["{{ printf \"%s:%s\" .user .pass | b64enc }}", "{{ printf \"%d|%5d|%-5d|%05d|%x|%X|%o|%b|%c|%q|%U|%#x|%+d\" 42 42 42 42 255 255 8 5 65 65 65 255 5 }}",
          "{{ printf \"%s|%10s|%-10s|%.2s|%q|%x|% x|%#q|%5.1s\" \"hello\" \"hi\" \"hi\" \"hello\" \"a\\\"b\" \"hi\" \"hi\" \"ab\" \"xyz\" }}",
          "{{ printf \"%v|%t|%v\" true false nil }}", "{{ printf \"%f|%.2f|%e|%g|%G|%8.3f|%-8.2f|%+.1f|%08.2f\" 3.14159 3.14159 1234.5678 0.00001234 1e20 3.14159 2.5 2.25 -3.5 }}",
          "{{ printf \"%d\" \"x\" }}", "{{ printf \"%s\" 1 }}", "{{ printf \"%d %d\" 1 }}", "{{ printf \"%d\" 1 2 \"a\" }}", "{{ printf \"%z\" 1 }}", "{{ printf \"%\" }}",
          "{{ printf \"%v\" (list 1 \"a\" (dict \"k\" 2)) }}", "{{ printf \"%s\" (list \"a\" 1) }}", "{{ printf \"%q\" (list \"a\" \"b\") }}", "{{ printf \"%d\" (list 1 2) }}",
          "{{ printf \"%v\" . }}", "{{ printf \"%T %T %T %T %T %T\" 1 1.5 \"s\" true (list) (dict) }}", "{{ printf \"%T\" nil }}", "{{ printf \"%#v\" (list 1 \"a\") }}",
          "{{ printf \"%#v\" \"s\" }}", "{{ printf \"%x\" -255 }}", "{{ printf \"%.3d|%.0d|%6.3d\" 7 0 7 }}", "{{ printf \"%*d|%-*d|\" 5 1 4 2 }}", "{{ printf \"%[2]d %[1]d\" 1 2 }}",
          "{{ printf \"%.1f %.0f %.0f\" 0.05 0.5 1.5 }}", "{{ printf \"%5t|%-6v|\" true 1 }}", "{{ printf \"%s\" 1.5 }}", "{{ printf \"%d\" 1.5 }}", "{{ printf \"%f\" 1 }}",
          "{{ printf \"%c%c\" 0x1F600 -1 }}", "{{ printf \"%q\" 0x1F600 }}", "{{ printf \"%v %v\" 1e6 1e-5 }}", "{{ printf \"%g\" 100000.0 }}", "{{ printf \"%.3g\" 1234.5678 }}",
          "{{ printf \"%6.2v\" 3.14159 }}", "{{ printf \"%+q\" \"é\" }}", "{{ printf \"% d|% d\" 5 -5 }}", "{{ printf \"%05s\" \"ab\" }}", "{{ printf \"%-05d|\" 3 }}",
          "{{ printf \"%v\" (dict \"b\" nil \"a\" (list)) }}", "{{ printf \"%e\" 0.0 }}", "{{ printf \"%g %g\" 0.0 -0.0 }}", "{{ printf \"%.2e\" 123456.0 }}"]:
    c(s)
# sprig strings
for s in ["{{ .user | upper }} {{ \"ABC\" | lower }} {{ \"hello world\" | title }} {{ \"Hello World\" | untitle }}",
          "{{ trim .spaces }}|{{ trimAll \"$\" \"$$5$\" }}|{{ trimPrefix \"db.\" .host }}|{{ trimSuffix \".com\" .host }}|{{ trimall \"x\" \"xax\" }}",
          "{{ repeat 3 \"ab\" }}|{{ substr 1 3 \"hello\" }}|{{ substr -1 3 \"hello\" }}|{{ substr 2 -1 \"hello\" }}|{{ substr 2 99 \"hello\" }}",
          "{{ substr 4 2 \"hello\" }}", "{{ substr 9 99 \"hello\" }}", "{{ substr 0 9 \"é\" }}", "{{ repeat -1 \"x\" }}",
          "{{ nospace \" a b\\tc \" }}|{{ trunc 3 \"hello\" }}|{{ trunc -2 \"hello\" }}|{{ trunc 10 \"hi\" }}|{{ abbrev 5 \"hello world\" }}|{{ abbrev 3 \"hello\" }}",
          "{{ abbrevboth 5 10 \"1234 5678 9123\" }}|{{ abbrevboth 0 10 \"1234 5678 9123\" }}", "{{ initials \"First Try\" }}|{{ swapcase \"Hello World\" }}",
          "{{ contains \"dmi\" .user }} {{ hasPrefix \"ad\" .user }} {{ hasSuffix \"in\" .user }} {{ .user | contains \"x\" }}",
          "{{ quote .user .missing 1 }}|{{ squote .user 2 }}|{{ quote }}|{{ quote \"a\\\"b\\n\" }}|{{ cat \"a\" 1 .missing \"b\" }}",
          "{{ replace \"a\" \"b\" \"banana\" }}|{{ \"banana\" | replace \"an\" \"\" }}|{{ replace \"\" \"-\" \"abc\" }}",
          "{{ indent 4 .multi }}|{{ nindent 2 .multi }}|{{ indent 0 \"x\" }}", "{{ indent -1 \"x\" }}",
          "{{ plural \"one\" \"many\" 1 }} {{ plural \"one\" \"many\" 2 }}", "{{ sha1sum \"abc\" }} {{ sha256sum \"abc\" }} {{ adler32sum \"abc\" }}",
          "{{ toString 1 }}|{{ toString 1.5 }}|{{ toString .missing }}|{{ toString (list 1) }}|{{ toString true }}",
          "{{ atoi \"42\" }} {{ atoi \"x\" }} {{ atoi \"-7\" }} {{ atoi \"99999999999999999999\" }} {{ atoi \" 1\" }} {{ atoi \"+3\" }}",
          "{{ int \"12\" }} {{ int \"0x1f\" }} {{ int \"010\" }} {{ int 3.9 }} {{ int \"3.0\" }} {{ int \"3.5\" }} {{ int true }} {{ int .missing }} {{ int64 \"1_000\" }}",
          "{{ float64 \"1.5\" }} {{ float64 2 }} {{ float64 \"x\" }} {{ float64 \"inf\" }} {{ float64 \"1e3\" }}",
          "{{ typeOf (int 1) }} {{ typeOf (int64 1) }} {{ typeOf (float64 1) }} {{ typeOf (atoi \"1\") }} {{ typeOf (add 1 1) }}",
          "{{ split \",\" .csv }}|{{ (split \",\" .csv)._1 }}|{{ splitList \",\" .csv }}|{{ splitn \",\" 2 .csv }}|{{ splitList \"\" \"abc\" }}|{{ splitList \",\" \"\" }}",
          "{{ toStrings (list 1 \"a\" nil 2.5) }}|{{ join \",\" (list 1 \"a\" nil) }}|{{ join \"-\" (splitList \",\" .csv) }}|{{ join \",\" \"str\" }}|{{ join \",\" .missing }}",
          "{{ until 3 }}|{{ until -2 }}|{{ untilStep 1 10 3 }}|{{ untilStep 5 0 -2 }}|{{ seq 3 }}|{{ seq 2 5 }}|{{ seq 5 2 }}|{{ seq 0 2 10 }}|{{ seq 1 -1 }}|{{ seq }}",
          "{{ upper 1 }}", "{{ upper .missing }}", "{{ upper nil }}", "{{ upper }}", "{{ upper \"a\" \"b\" }}", "{{ repeat \"3\" \"x\" }}", "{{ repeat (add 1 2) \"x\" }}",
          "{{ repeat (atoi \"2\") \"x\" }}", "{{ .user | repeat 2 }}", "{{ hello }}", "{{ upper \"straße ǆ\" }}|{{ lower \"ÀÉ İ\" }}|{{ title \"ǆemal o'neil x_y\" }}",
          "{{ regexMatch \"^[a-z]+$\" .user }} {{ regexMatch \"[\" \"x\" }} {{ regexFind \"[0-9]+\" \"ab123cd45\" }} {{ regexFindAll \"[0-9]+\" \"ab123cd45\" -1 }} {{ regexFindAll \"[0-9]\" \"1234\" 2 }}",
          "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}|{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"$1W\" }}|{{ regexReplaceAllLiteral \"a(x*)b\" \"-ab-axxb-\" \"${1}\" }}",
          "{{ regexSplit \"z+\" \"pizza\" -1 }}|{{ regexSplit \"z+\" \"pizza\" 1 }}|{{ regexSplit \"\" \"abc\" -1 }}|{{ regexSplit \"a\" \"\" -1 }}|{{ regexQuoteMeta \"1.5-2*[x]\" }}",
          "{{ regexFind \"[\" \"x\" }}", "{{ mustRegexMatch \"(\" \"x\" }}", "{{ regexMatch \"\\\\d\" \"٣\" }} {{ regexMatch \"\\\\w+\" \"é\" }} {{ regexFindAll \"\\\\bfoo\\\\b\" \"foo éfoo\" -1 }}",
          "{{ b64enc \"hello\" }} {{ b64dec .b64 }} {{ b64dec \"aGVsbG8\" }} {{ b64dec \"a$\" }} {{ b64dec \"aGVs\\nbG8=\" }} {{ b64dec \"aGVsbG8=x\" }} {{ b64dec \"=\" }}",
          "{{ b32enc \"hello\" }} {{ b32dec \"NBSWY3DP\" }} {{ b32dec \"x\" }} {{ b32enc \"\" }} {{ b32enc \"a\" }} {{ b32dec \"ME======\" }}",
          "{{ base \"/a/b.txt\" }} {{ dir \"/a/b.txt\" }} {{ clean \"a//b/../c/.\" }} {{ ext \"x.tar.gz\" }} {{ isAbs \"/x\" }} {{ base \"\" }} {{ dir \"x\" }} {{ clean \"/../a\" }} {{ clean \"../../a/..\" }} {{ base \"/\" }}",
          ]:
    c(s)
# math
for s in ["{{ add 1 2 3 }} {{ add1 5 }} {{ sub 5 3 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 3 }} {{ max 1 5 3 }} {{ min 4 2 8 }} {{ biggest 1 2 }}",
          "{{ add \"1\" 2.7 true }}", "{{ div 1 0 }}", "{{ mod 1 0 }}", "{{ add }}", "{{ add1 \"x\" }}", "{{ sub 1 }}",
          "{{ addf 0.1 0.2 }} {{ subf 1 0.9 }} {{ mulf 1.1 3 }} {{ divf 1 3 }} {{ divf 2 3 }} {{ add1f 0.1 }} {{ maxf 1 2.5 }} {{ minf 1 -2.5 }} {{ addf }}",
          "{{ divf 1 0 }}", "{{ ceil 1.2 }} {{ floor 1.8 }} {{ round 3.14159 2 }} {{ round 2.5 0 }} {{ round -2.5 0 }} {{ round 1.25 1 0.6 }}",
          "{{ toDecimal \"0777\" }} {{ toDecimal 17 }} {{ toDecimal \"8\" }}", "{{ 3 | add 1 }}", "{{ len (until 5) }}"]:
    c(s)
# defaults, json, dicts, lists
for s in ["{{ .missing | default \"d\" }}|{{ .empty | default \"d\" }}|{{ .user | default \"d\" }}|{{ default \"d\" }}|{{ default \"d\" 0 }}|{{ default \"d\" (list) }}",
          "{{ empty .missing }} {{ empty .user }} {{ empty 0 }} {{ empty (dict) }} {{ empty false }} {{ empty 0.0 }}",
          "{{ coalesce .missing .empty .user }}|{{ coalesce .missing }}|{{ all 1 \"a\" }}|{{ all 1 0 }}|{{ any 0 \"\" 1 }}|{{ any }}",
          "{{ ternary \"y\" \"n\" true }} {{ ternary \"y\" \"n\" (eq .a \"q\") }}", "{{ ternary \"y\" \"n\" 1 }}",
          "{{ toJson . }}", "{{ toJson (dict \"a\" 1 \"b\" (list 1.5 \"<&>\" nil true) \"c\" (dict)) }}", "{{ toPrettyJson (dict \"a\" 1 \"b\" (list 1 2) \"c\" (dict) \"d\" (list)) }}",
          "{{ toRawJson (dict \"h\" \"<&>\") }}", "{{ toJson 1.5 }}|{{ toJson 1e21 }}|{{ toJson 1e-7 }}|{{ toJson 0.000001 }}|{{ toJson 100.0 }}|{{ toJson \"é\\u2028\" }}|{{ toJson .missing }}|{{ toJson 1e20 }}",
          "{{ $j := fromJson .json }}{{ $j.k }}|{{ index $j.k 1 }}|{{ $j.m.z }}|{{ $j.b }}|{{ typeOf (index $j.k 0) }}|{{ toJson $j }}", "{{ fromJson \"bad\" }}", "{{ mustFromJson \"bad\" }}",
          "{{ (fromJson \"[1,2]\") }}|{{ fromJson \"12345678901234567890\" }}|{{ fromJson \"\\\"s\\\"\" }}|{{ fromJson \"null\" }}|{{ fromJson \"{}\" }}",
          "{{ $d := dict \"auths\" (dict \"reg.io\" (dict \"username\" .user \"password\" .pass \"auth\" (printf \"%s:%s\" .user .pass | b64enc))) }}{{ toJson $d }}",
          "{{ $d := dict \"a\" 1 }}{{ $_ := set $d \"b\" 2 }}{{ $d }}|{{ get $d \"a\" }}|{{ get $d \"zz\" }}|{{ hasKey $d \"b\" }}|{{ unset $d \"a\" }}|{{ keys $d }}|{{ values $d }}",
          "{{ dict \"a\" }}|{{ dict 1 2 }}|{{ dict }}|{{ dict \"k\" .missing }}", "{{ get . \"user\" }}", "{{ hasKey . \"user\" }}", "{{ set (dict) \"a\" }}", "{{ set nil \"a\" 1 }}",
          "{{ pluck \"a\" (dict \"a\" 1) (dict \"b\" 2) (dict \"a\" 3) }}|{{ keys (dict \"b\" 1 \"a\" 2) (dict \"c\" 3) | sortAlpha }}|{{ pick (dict \"a\" 1 \"b\" 2 \"c\" 3) \"a\" \"c\" \"z\" }}|{{ omit (dict \"a\" 1 \"b\" 2) \"a\" }}",
          "{{ merge (dict \"a\" 1 \"n\" (dict \"x\" 1)) (dict \"a\" 2 \"b\" 3 \"n\" (dict \"y\" 2)) }}|{{ mergeOverwrite (dict \"a\" 1 \"e\" \"\") (dict \"a\" 2 \"e\" \"f\" \"z\" \"\") }}|{{ merge (dict \"e\" \"\") (dict \"e\" \"v\") }}",
          "{{ dig \"a\" \"b\" \"def\" (dict \"a\" (dict \"b\" \"found\")) }}|{{ dig \"a\" \"x\" \"def\" (dict \"a\" (dict \"b\" 1)) }}|{{ dig \"a\" \"def\" (dict) }}", "{{ dig \"a\" \"b\" }}", "{{ dig \"a\" \"d\" . }}",
          "{{ list 1 \"a\" 2.5 nil true }}|{{ list }}|{{ tuple 1 2 }}|{{ first (list 1 2) }}|{{ last (list 1 2) }}|{{ rest (list 1 2 3) }}|{{ initial (list 1 2 3) }}|{{ first (list) }}|{{ rest (list) }}",
          "{{ append (list 1) 2 }}|{{ prepend (list 1) 0 }}|{{ reverse (list 1 2 3) }}|{{ uniq (list 1 2 1 \"a\" \"a\") }}|{{ without (list 1 2 3 2) 2 }}|{{ has 2 (list 1 2) }}|{{ has 5 nil }}|{{ compact (list 0 1 \"\" \"a\" nil) }}",
          "{{ concat (list 1) (list 2 3) }}|{{ chunk 2 (list 1 2 3 4 5) }}|{{ slice (list 1 2 3) }}|{{ sortAlpha (list \"b\" \"a\" 10 9) }}|{{ sortAlpha \"x\" }}|{{ append (splitList \",\" .csv) \"d\" }}",
          "{{ first \"abc\" }}", "{{ first .missing }}", "{{ append \"x\" 1 }}", "{{ concat (list 1) 2 }}", "{{ slice \"abc\" 1 }}", "{{ chunk 0 (list 1) }}", "{{ has 1 \"x\" }}",
          "{{ typeOf (list) }} {{ typeOf (dict) }} {{ typeOf (splitList \",\" \"a\") }} {{ typeOf . }} {{ typeOf (split \",\" \"a\") }} {{ typeOf nil }} {{ typeOf (until 2) }} {{ typeOf (chunk 1 (list 1)) }} {{ typeOf (first (list 1)) }}",
          "{{ kindOf 1 }} {{ kindOf \"s\" }} {{ kindOf (list) }} {{ kindOf (dict) }} {{ kindOf nil }} {{ kindIs \"int\" 1 }} {{ typeIs \"string\" \"x\" }} {{ typeIsLike \"string\" \"x\" }} {{ deepEqual (list 1) (list 1) }} {{ deepEqual (list 1) (list \"1\") }}",
          "{{ deepCopy (dict \"a\" (list 1)) }}", "{{ $l := list 1 2 }}{{ $l2 := append $l 3 }}{{ $l }} {{ $l2 }}",
          "{{ (dict \"a\" \"s\").a.b }}", "{{ (dict \"a\" nil).a.b }}", "{{ (dict \"a\" nil).a }}", "{{ $x := (dict \"a\" \"s\").a }}{{ $x.b }}", "{{ (list 1).x }}",
          "{{ .user | fail }}", "{{ fail \"custom failure\" }}", "{{ now }}", "{{ uuidv4 }}", "{{ randAlphaNum 10 }}",
          "{{ env \"HOME\" }}", "{{ expandenv \"$HOME\" }}", "{{ getHostByName \"x\" }}", "{{ toYaml . }}", "{{ include \"x\" . }}", "{{ tpl \"x\" . }}", "{{ required \"x\" .a }}", "{{ lookup \"v1\" \"Secret\" \"\" \"\" }}",
          "x\n{{ if .user }}\n  {{ nope }}\n{{ end }}", "{{ .user | nope }}", "{{ (nope) }}",
          ]:
    c(s)
# realistic sealed-secrets templates
c("{{ printf \"{\\\"auths\\\":{\\\"%s\\\":{\\\"auth\\\":\\\"%s\\\"}}}\" .host (printf \"%s:%s\" .user .pass | b64enc) }}")
c("postgres://{{ .user }}:{{ .pass | urlquery }}@{{ .host }}:5432/app?sslmode=require")
c("[client]\nuser={{ .user }}\npassword={{ .pass | quote }}\n{{- if .missing }}\nextra=1\n{{- end }}\n")
c("config:\n  creds:{{ printf \"%s\\n%s\" .user .pass | nindent 4 }}\n")
c("{{- range $k, $v := . }}\n{{ $k | upper | replace \".\" \"_\" }}={{ $v | quote }}\n{{- end }}\n")
c("{{ .pass | sha256sum | trunc 8 }}-{{ .user | b64enc | b64dec }}")
c("{{ $u := .user }}{{ with .pass }}{{ $u }}/{{ . }}/{{ $.host }}{{ end }}")
c("{{ define \"cred\" }}{{ .user }}:{{ .pass }}{{ end }}{{ include \"cred\" . }}")
c("{{ define \"cred\" }}{{ .user }}:{{ .pass }}{{ end }}{{ template \"cred\" . }}")
c("{{ index . \"missing-key\" | default \"fallback\" }}")
c("{{ .pct | printf \"%s%%\" }}")
c("{{ .user }}", data={}, name="config")
c("{{ env \"X\" }}", name="config")
c("{{ .a }}\n{{ .b.c }}", data={"a": "1", "b": "2"}, name="my.name")
c("{{ upper 1 }}", name="n_d")
c("{{ template \"x\" }}", name="q\"uote")

with open(sys.argv[1], "w") as f:
    for r in cases:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(cases))
