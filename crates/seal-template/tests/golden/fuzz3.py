import json, random, sys
random.seed(int(sys.argv[1])); N=int(sys.argv[2])
D = {"user":"admin","pass":"s3cr3t","csv":"a,b","empty":"","n":"3"}
flags = ["", "", "-", "+", "#", "0", " ", "-0", "+0", "#0", "- "]
widths = ["", "", "5", "1", "12", "*", "0"]
precs = ["", "", ".2", ".0", ".", ".10", ".*", ".1"]
verbs = list("vdsqxXofeEgGtcbUT%") + ["z", "[1]d", "[2]v", "[3]s"]
args = ['1','-42','0','255','3.14159','-0.5','1e21','1e-7','100000.0','0.0','"hi"','""','"é\\n\\t"','"a\\"b"','true','false','nil','.missing','(list 1 "a")','(dict "k" 1.5)','(list)','(int64 7)','65','0x1F600','(index "ab" 0)','(float64 "nan")','(float64 "inf")','(div 7 2)', '(fromJson "[1, {\\"a\\": null}]")', '(splitList "," .csv)']
out=[]
for i in range(N):
    fmt = "".join(("%" + random.choice(flags) + random.choice(widths) + random.choice(precs) + random.choice(verbs)) if random.random()<0.8 else random.choice(["x","|"," ","%%"]) for _ in range(random.randint(1,4)))
    a = " ".join(random.choice(args) for _ in range(random.randint(0,4)))
    src = '{{ printf %s %s }}' % (json.dumps(fmt), a)
    out.append({"name":"t","src":src,"data":D})
for r in out: print(json.dumps(r))
