#!/usr/bin/env python3
"""Writes hostile MSCCL XML files for catalogue.sh.

Usage: mutate_msccl.py VALID.xml OUTDIR
VALID.xml is `grove export S --msccl` of a 2-rank schedule; each variant is OUTDIR/msccl-<name>.xml.
"""
import os, re, sys

src, out = sys.argv[1], sys.argv[2]
text = open(src).read()
body = text[text.index("<algo"):]

def put(name, raw):
    with open(os.path.join(out, f"msccl-{name}.xml"), "w") as f:
        f.write(raw)

def sub_first(pattern, repl, s=body):
    r, n = re.subn(pattern, repl, s, count=1)
    assert n == 1, pattern
    return r

# billion laughs: 10 levels of 10 references each, expanded inside an attribute value
lol = ['<?xml version="1.0"?>', '<!DOCTYPE algo [', '<!ENTITY lol0 "lollollollollol">']
for i in range(1, 10):
    lol.append(f'<!ENTITY lol{i} "' + f"&lol{i-1};" * 10 + '">')
lol.append("]>")
put("billion-laughs", "\n".join(lol) + "\n" + sub_first(r'name="[^"]*"', 'name="&lol9;"'))

# external entity (XXE) pulling /etc/passwd into an attribute, and into content
xxe = '<?xml version="1.0"?>\n<!DOCTYPE algo [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
put("xxe-attribute", xxe + sub_first(r'name="[^"]*"', 'name="&xxe;"'))
put("xxe-content", xxe + sub_first(r'(<gpu id="0"[^>]*>)', r'\1&xxe;'))
# parameter-entity variant that fetches an external DTD (must not be loaded)
put("xxe-external-dtd", '<?xml version="1.0"?>\n<!DOCTYPE algo SYSTEM "file:///etc/passwd">\n' + body)

# 100 000 nested elements inside <algo>
depth = 100000
put("deep-100k", body.replace("</algo>", "<gpu>" * depth + "</gpu>" * depth + "</algo>", 1))

# ngpus of a billion in a small file
put("ngpus-billion", sub_first(r'ngpus="\d+"', 'ngpus="1000000000"'))
put("ngpus-int-max", sub_first(r'ngpus="\d+"', 'ngpus="9223372036854775807"'))
put("ngpus-zero", sub_first(r'ngpus="\d+"', 'ngpus="0"'))
# huge offsets and counts
put("srcoff-huge", sub_first(r'srcoff="\d+"', 'srcoff="9223372036854775807"'))
put("cnt-huge", sub_first(r'cnt="\d+"', 'cnt="9223372036854775807"'))
put("cnt-overflow-digits", sub_first(r'cnt="\d+"', 'cnt="99999999999999999999"'))
put("chunks-huge", sub_first(r'i_chunks="\d+"', 'i_chunks="9223372036854775807"'))
put("nchunksperloop-huge", sub_first(r'nchunksperloop="\d+"', 'nchunksperloop="4611686018427387904"'))
# negative values
put("srcoff-negative", sub_first(r'srcoff="\d+"', 'srcoff="-3"'))
put("cnt-negative", sub_first(r'cnt="\d+"', 'cnt="-1"'))
put("gpu-id-negative", sub_first(r'<gpu id="\d+"', '<gpu id="-1"'))
put("chan-negative", sub_first(r'chan="\d+"', 'chan="-7"'))
put("depid-far", sub_first(r'depid="\d+"', 'depid="1000000"'))
# non-numeric attributes
put("cnt-text", sub_first(r'cnt="\d+"', 'cnt="many"'))
put("ngpus-float", sub_first(r'ngpus="\d+"', 'ngpus="2.5"'))
put("send-hex", sub_first(r'send="\d+"', 'send="0x1"'))
# truncated in the middle of an element
put("truncated", body[: len(body) // 2])
# not XML at all, and empty
put("empty", "")
put("binary", "".join(chr(c) for c in range(1, 32) if c not in (9, 10, 13)) * 50)
