#!/usr/bin/env python3
"""Extract Squawk's linter rule test cases into tests/squawk/cases/.

Usage: extract.py <squawk git dir> <out dir>
Reads crates/squawk_linter/src/rules/*.rs at HEAD; for each #[test] function it takes the
SQL string literal(s) and the lint_ok / lint_errors (/_with) calls, and writes
<out>/<rule-name>/<test>.<ok|err>.sql with a first line `-- squawk: <settings>`.
"""
import os, re, subprocess, sys

git_dir, out = sys.argv[1], sys.argv[2]

def show(p):
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:{p}"],
                          capture_output=True, text=True, check=True).stdout

names = {}
lib = show("crates/squawk_linter/src/lib.rs")
for m in re.finditer(r'Rule::(\w+)\s*=>\s*\{?\s*"([a-z-]+)"', lib):
    names[m.group(1)] = m.group(2)

STR = r'r(?P<h{n}>#*)"(?P<raw{n}>.*?)"(?P=h{n})|"(?P<esc{n}>(?:[^"\\]|\\.)*)"'
files = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only", "HEAD",
                        "crates/squawk_linter/src/rules/"], capture_output=True, text=True).stdout.split()
count = 0
BASE = {"lint_ok": "ok", "lint_ok_with": "ok", "lint_errors": "err", "lint_errors_with": "err", "fix_sql": "err", "fix_sql_with": "err"}

def lit(m, n):
    if m.group(f"raw{n}") is not None:
        return m.group(f"raw{n}")
    return bytes(m.group(f"esc{n}"), "utf-8").decode("unicode_escape")

for path in files:
    if not path.endswith(".rs") or path.endswith("mod.rs"):
        continue
    src = show(path)
    tests = src.split("mod test", 1)
    if len(tests) < 2:
        continue
    body = tests[1]
    kinds = dict(BASE)
    for wm in re.finditer(r'fn (\w+)\(sql: &str[^)]*\)[^{]*\{([^}]*)\}', body):
        for b, k in BASE.items():
            if re.search(r'\b' + b + r'\(', wm.group(2)):
                kinds[wm.group(1)] = k
                break
    call_names = "|".join(sorted(kinds, key=len, reverse=True))
    for fm in re.finditer(r'#\[test\]\s*fn (\w+)\(\)\s*\{(.*?)\n    \}\n', body, re.S):
        tname, fbody = fm.group(1), fm.group(2)
        vars_ = {}
        for vm in re.finditer(r'let (\w+) = (?:' + STR.format(n=1) + r')', fbody, re.S):
            vars_[vm.group(1)] = lit(vm, 1)
        for i, cm in enumerate(re.finditer(r'\b(?P<kind>' + call_names + r')\(\s*(?P<arg>\w+|' + STR.format(n=2) + r')\s*(?P<rest>,.*?)?\)\s*[;,)]', fbody, re.S)):
            kind, arg = cm.group("kind"), cm.group("arg")
            if arg in vars_:
                sql = vars_[arg]
            elif cm.group("raw2") is not None or cm.group("esc2") is not None:
                sql = lit(cm, 2)
            else:
                continue
            rest = cm.group("rest") or ""
            rm = re.search(r'Rule::(\w+)', rest) or re.search(r'Rule::(\w+)', fbody)
            if not rm or rm.group(1) not in names:
                # helper wrappers: fall back to the file's rule
                rm = re.search(r'Rule::(\w+)', src)
            rule = names.get(rm.group(1), rm.group(1)) if rm else os.path.basename(path)[:-3]
            settings = []
            vm = re.search(r'pg_version:\s*"(\d+)"', rest + fbody)
            if "LinterSettings" in (rest + fbody) and vm:
                settings.append(f"pg_version={vm.group(1)}")
            if re.search(r'assume_in_transaction:\s*true', fbody):
                settings.append("assume_in_transaction")
            ok = kinds[kind] == "ok"
            d = os.path.join(out, rule)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"{tname}_{i}.{'ok' if ok else 'err'}.sql"), "w") as f:
                f.write(f"-- squawk: {' '.join(settings)}\n{sql.strip()}\n")
            count += 1
print(count, "cases")
