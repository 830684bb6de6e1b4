#!/usr/bin/env python3
# Independent reference for the counts pinned in decode_test.go. Run from the repo root:
#   cd testdata && python3 ../internal/cloudtrail/testdata/count_reference.py <files…>
# Prints (records, skipped, errors, records without eventID) per file.
# Independent reference count for cloudtrail decoder tests.
# Rule (same as documented in decode.go, implemented separately):
#  - object with CloudTrailEvent string -> parse it, classify
#  - object with detail-type and object detail -> record if detail has >=2 sig keys else skipped
#  - object with Records/Events array -> each element
#  - object with >=2 of eventversion,eventtime,eventsource,eventname,eventid -> record
#      (error if eventTime missing/null/not parseable)
#  - else wrapper: object-valued / JSON-string-valued fields (depth<3); none -> skipped
#  - non-object item -> error
import json, sys, os, re, datetime
SIG={'eventversion','eventtime','eventsource','eventname','eventid'}
def lk(o): return {k.lower():v for k,v in o.items()}
def goodtime(v):
    if not isinstance(v,str): return False
    for f in ('%Y-%m-%dT%H:%M:%SZ','%Y-%m-%dT%H:%M:%S.%fZ'):
        try: datetime.datetime.strptime(v,f); return True
        except: pass
    try:
        datetime.datetime.fromisoformat(v.replace('Z','+00:00')); return True
    except: return False
class C:
    def __init__(s): s.rec=0; s.skip=0; s.err=0; s.noid=0
def rec(o,c):
    l=lk(o)
    if goodtime(l.get('eventtime')):
        c.rec+=1
        if not isinstance(l.get('eventid'),str) or not l.get('eventid'): c.noid+=1
    else: c.err+=1
def obj(o,c,depth,quiet):
    l=lk(o)
    if isinstance(l.get('cloudtrailevent'),str) and l['cloudtrailevent']:
        return val(json.loads(l['cloudtrailevent']),c,depth+1,quiet)
    if isinstance(l.get('detail-type'),str) and l['detail-type'] and isinstance(l.get('detail'),dict):
        if len(SIG & set(lk(l['detail']).keys()))>=2: rec(l['detail'],c); return True
        if not quiet: c.skip+=1
        return False
    for k in ('records','events'):
        if isinstance(l.get(k),list): return val(l[k],c,depth+1,quiet)
    if len(SIG & set(l.keys()))>=2: rec(o,c); return True
    found=False
    if depth<3:
        for k,v in o.items():
            if k.lower() in {'eventversion','useridentity','requestparameters','responseelements','additionaleventdata','tlsdetails','serviceeventdetails','addendum','edgedevicedetails','insightdetails','detail'}: continue
            if isinstance(v,dict): found|=val(v,c,depth+1,True)
            elif isinstance(v,str) and v.lstrip().startswith('{'):
                try: found|=val(json.loads(v),c,depth+1,True)
                except Exception: pass
    if not found and not quiet: c.skip+=1
    return found
def val(v,c,depth,quiet):
    if isinstance(v,dict): return obj(v,c,depth,quiet)
    if isinstance(v,list):
        f=False
        for e in v: f|=val(e,c,depth+1,quiet)
        return f
    if not quiet: c.err+=1
    return False
def count(path):
    c=C()
    data=open(path,'rb').read()
    if data[:2]==b'\x1f\x8b':
        import gzip; data=gzip.decompress(data)
    t=data.decode()
    try:
        v=json.loads(t)
        if isinstance(v,dict) and any(k.lower() in('records','events') and isinstance(x,list) for k,x in v.items()):
            for k,x in v.items():
                if k.lower() in ('records','events') and isinstance(x,list):
                    for e in x: val(e,c,0,False)
                    break
        elif isinstance(v,list):
            for e in v: val(e,c,0,False)
        else: val(v,c,0,False)
    except json.JSONDecodeError as e:
        lines=[x for x in t.split('\n') if x.strip()]
        if len(lines)>1:
            for x in lines:
                try: val(json.loads(x),c,0,False)
                except json.JSONDecodeError: c.err+=1
        else:
            return 'SYNTAX '+str(e)
    return (c.rec,c.skip,c.err,c.noid)
for p in sys.argv[1:]:
    print(os.path.relpath(p), count(p))
