import json, random, sys
random.seed(int(sys.argv[1])); N=int(sys.argv[2])
D = {"user":"admin","pass":"s3cr3t","csv":"a,b","empty":"","n":"3"}
atoms = ["{{", "}}", "{{- ", " -}}", "{{-", "-}}", " ", " ", " ", ".", ".user", ".pass", ".missing", ".user.x", "$", "$x", "$y", "$x.k", ":=", "=", "|", "(", ")", "\"", "\"s\"", "`r`", "'a'", "'", ",",
 "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue", "nil", "true",
 "1", "-3", "1.5", "0x1F", "1e3", "\"%s\"", "\"%d\"", "printf", "index", "len", "eq", "and", "or", "not", "print",
 "default", "dict", "list", "upper", "quote", "toJson", "\"x\"", "/*", "*/", "\n", "é", "\\", "%", "x", "#", "@", ";", "{", "}", ":", "..", "$x :=", "$x, $y :=", "{{/* c */}}", "{{ end }}", "{{ else }}", "{{ if .user }}", "{{ range . }}", "{{ with .pass }}",
 "{{ define \"d\" }}", "{{ template \"d\" . }}", "{{ block \"b\" . }}", "{{ $x := .user }}", "{{ .user }}", "{{ break }}", "{{ continue }}", "{{ range $k, $v := . }}", "{{ else if .missing }}", "(dict \"k\" 1).k", "(list 1 2)", "$.user"]
def gen():
    n = random.randint(1, 25)
    return "".join(random.choice(atoms) for _ in range(n))
out=[]
for i in range(N):
    src = gen()
    if random.random() < 0.5: src = "pre " + src + " post"
    if random.random() < 0.3: src = src.replace(" ", "\n", 1)
    out.append({"name":"t","src":src,"data":D})
for r in out: print(json.dumps(r))
