#!/usr/bin/env python3
# reflow.py FILE: refill plain paragraphs of a commit message to 72 columns,
# keeping two spaces after a sentence and "N MiB"/"N KiB" together; lists,
# indented blocks, tables and trailers are left alone.
import re, sys
p = sys.argv[1]
s = open(p).read()
paras = s.split('\n\n')
out = []
for i, para in enumerate(paras):
    if i == 0 or para.startswith(('Signed-off-by', 'Fixes:', 'Cc:')) or \
       re.search(r'^(\s| ?- |\* )', para, re.M):
        out.append(para)
        continue
    text = ''
    for l in para.split('\n'):
        l = l.strip()
        text += ('  ' if text.endswith(('.', '?', '!')) and not text.endswith(('e.g.', 'i.e.')) else ' ' if text else '') + l
    text = re.sub(r'(\d) (MiB|KiB|GiB|TiB)', r'\1~~\2', text)
    # words with the spacing that follows each
    toks = re.findall(r'(\S+)( *)', text)
    lines, cur, sp_prev = [], '', ''
    for w, sp in toks:
        sent = cur.endswith(('.', '?', '!')) and w[:1].isupper() and \
            not cur.endswith(('e.g.', 'i.e.', 'vs.'))
        sep = '  ' if len(sp_prev) == 2 or sent else ' ' if cur else ''
        if cur and len(cur) + len(sep) + len(w) > 72:
            lines.append(cur)
            cur = w
        else:
            cur = cur + sep + w
        sp_prev = sp
    if cur:
        lines.append(cur)
    out.append('\n'.join(lines).replace('~~', ' '))
open(p, 'w').write('\n\n'.join(out))
