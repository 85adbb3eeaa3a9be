import json, random, sys
random.seed(int(sys.argv[1]))
N = int(sys.argv[2])
D = {"user":"admin","pass":"s3cr3t","a":"x","num":"42","json":"{\"k\":[1,2.5],\"m\":{\"z\":null}}","csv":"a,b,c","empty":"","multi":"l1\nl2"}
vals = ['.user','.pass','.num','.csv','.missing','.empty','.','$','1','0','-2','1.5','"s"','"a,b"','true','false','nil','(list 1 "a")','(dict "k" 1)','(list)','(dict)', '"%d"', '"%s"', '"%v"', '"%q"', '"%x"', '3', '"abc"', '"0x1f"', '"1.5"', '(until 3)', '(splitList "," .csv)', '(fromJson .json)', '.json', '$x']
funcs = {  # name: arity options
 'upper':[1],'lower':[1],'title':[1],'trim':[1],'quote':[0,1,2],'squote':[1,2],'b64enc':[1],'b64dec':[1],'len':[1],'index':[1,2,3],
 'printf':[1,2,3],'print':[0,1,2,3],'println':[1,2],'eq':[2,3],'ne':[2],'lt':[2],'le':[2],'gt':[2],'ge':[2],'and':[1,2,3],'or':[1,2,3],'not':[1],
 'default':[1,2],'empty':[1],'coalesce':[1,2,3],'ternary':[3],'toJson':[1],'toPrettyJson':[1],'fromJson':[1],'toString':[1],'atoi':[1],'int':[1],'int64':[1],
 'float64':[1],'add':[0,1,2,3],'sub':[2],'mul':[1,2],'div':[2],'mod':[2],'max':[1,2],'min':[1,2],'add1':[1],'list':[0,1,2,3],'dict':[0,1,2,4],
 'first':[1],'last':[1],'rest':[1],'initial':[1],'append':[2],'prepend':[2],'reverse':[1],'uniq':[1],'has':[2],'without':[2],'compact':[1],'concat':[1,2],
 'join':[2],'split':[2],'splitList':[2],'splitn':[3],'toStrings':[1],'sortAlpha':[1],'keys':[1],'values':[1],'get':[2],'hasKey':[2],'pluck':[2],
 'indent':[2],'nindent':[2],'replace':[3],'repeat':[2],'substr':[3],'trunc':[2],'abbrev':[2],'contains':[2],'hasPrefix':[2],'hasSuffix':[2],
 'trimPrefix':[2],'trimSuffix':[2],'trimAll':[2],'nospace':[1],'initials':[1],'swapcase':[1],'untitle':[1],'cat':[1,2,3],
 'sha256sum':[1],'sha1sum':[1],'adler32sum':[1],'typeOf':[1],'kindOf':[1],'kindIs':[2],'typeIs':[2],'deepEqual':[2],
 'until':[1],'untilStep':[3],'seq':[1,2,3],'slice':[1,2,3],'html':[1,2],'js':[1],'urlquery':[1,2],'regexMatch':[2],'regexFind':[2],
 'regexReplaceAll':[3],'regexSplit':[3],'regexFindAll':[3],'b32enc':[1],'b32dec':[1],'base':[1],'dir':[1],'ext':[1],'clean':[1],
 'floor':[1],'ceil':[1],'round':[2],'addf':[1,2],'subf':[2],'mulf':[2],'divf':[2],'maxf':[2],'minf':[2],'toDecimal':[1],'plural':[3],
 'merge':[2],'mergeOverwrite':[2],'pick':[2],'omit':[2],'dig':[3],'chunk':[2],'deepCopy':[1],'set':[3],'unset':[2],'fail':[1],'mustFromJson':[1],
 'toRawJson':[1],'mustToJson':[1],'all':[1,2],'any':[1,2],'typeIsLike':[2],'regexQuoteMeta':[1],'hello':[0],
}
names = list(funcs)
def expr(d=0):
    r = random.random()
    if d > 2 or r < 0.45:
        return random.choice(vals)
    f = random.choice(names)
    n = random.choice(funcs[f])
    args = [expr(d+1) for _ in range(n)]
    if n and random.random() < 0.3:
        return f"({' '.join(args[:-1] and [f] + args[:-1] or [f])} | {f} {' '.join(args[:-1])})".replace("  "," ") if False else f"({args[-1]} | {f} {' '.join(args[:-1])})"
    return f"({f} {' '.join(args)})"
def action():
    e = expr()
    if e.startswith("(") and random.random() < 0.7:
        e = e[1:-1]
    r = random.random()
    if r < 0.1: return "{{ $x := %s }}{{ $x }}" % e
    if r < 0.2: return "{{ if %s }}T{{ else }}F{{ end }}" % e
    if r < 0.3: return "{{ range $i, $v := %s }}[{{ $i }}={{ $v }}]{{ else }}E{{ end }}" % e
    if r < 0.35: return "{{ with %s }}<{{ . }}>{{ end }}" % e
    return "{{ %s }}" % e
out = []
for i in range(N):
    src = "|".join(action() for _ in range(random.randint(1,3)))
    if "$x" in src and ":=" not in src:
        src = "{{ $x := .user }}" + src
    out.append({"name":"t","src":src,"data":D})
for r in out: print(json.dumps(r))
