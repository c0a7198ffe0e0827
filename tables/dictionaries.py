"""Deflate preset dictionaries of the packed table values (``tables.packed``): the field
names and texts every record repeats, so a small record does not spell them out.

Frozen: a record is inflated with the dictionary it was deflated with, so changing one
needs a new packed format version (old records must still decode).
"""

WINDOW_COUNTS = (
    b'{"p":0,"i":"web","t":1800000000.0,"w":{"1800000000":[1,0,0,{"503":1}],"180000006'
    b'0":[0,0,0,{}]},"a":{"0":0}}'
)
OPERATION_MODELS = (
    b'{"version":2,"integration":"web","first_boundary":0,"last_boundary":0,"baseline"'
    b':{"hourly":[[0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0'
    b",0.0,0.0,0.0,0.0,0.0,0.0,0.0],[0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0"
    b'.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0]],"seen":[[0,0,0,0,0,0,0,0,0,0,0,'
    b'0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]],"e'
    b'rror_calls":0.0,"error_errors":0.0,"dispersion":1.0,"hour_start":null,"hour_call'
    b's":0,"hour_tainted":false,"pending":[],"residuals":[],"down":[0.1,0.06,0.04],"vo'
    b'lume_hours":0,"peak":0.6931471805599453,"run_gaps":[],"run_spans":[],"last_run":'
    b'null,"last_call_end":null,"period":0,"jitter":0},"status":"learning","since":0,"'
    b'reason":"","observed":{},"expected":{},"total_calls":0,"recent_calls":[],"recent'
    b'_errors":[],"recent_expected":[],"recent_high":[],"last_call_boundary":null,"sil'
    b'ent_expected":0.0,"silent_effective":0.0,"schedule_gap":0,"calm":0,"milder":0,"h'
    b'eld":0,"known":0,"volume":null,"recent_codes":[],"hour_sums":[0.0,0.0,0.0,0.0],"'
    b'quarter_sums":[0.0,0.0,0.0,0.0],"five_sums":[0,0]}'
)
OPERATION_SUMMARIES = (
    b"Normal, no action needed. A single failed event among successful ones, or 'retry"
    b"ing' that turns 'delivered' within a few minutes, is handled by the system. Lear"
    b"ning this integration's normal traffic; nothing to do yet. No events are arrivin"
    b"g. If nothing happened in the source system, that is normal; otherwise create a "
    b"test event there and check that the webhook or connection is active. Contact us "
    b"if it stays empty. Events are stuck in 'processing': our middleware may have an "
    b"issue. Contact us; we have deeper monitoring on our side. The destination keeps "
    b"refusing events even after retries. Check the destination system's status page; "
    b"contact us if it does not recover. Most events are failing: likely a credential "
    b"or connectivity issue. Check whether someone changed API keys or revoked access,"
    b" whether the destination changed its API address or version, and the destination"
    b"'s status page. Contact us if you cannot find the cause. More failures than usua"
    b"l. Check whether they are ongoing or resolved; if they are ongoing, contact us. "
    b"The same error keeps repeating: contact us with its message. Failures come back "
    b'at the same time every day: contact us. {"operation":"x","integration":null,"sta'
    b'tus":"learning","since":0.0,"reason":"","guidance":"Normal, no action needed. A '
    b"single failed event among successful ones, or 'retrying' that turns 'delivered' "
    b'within a few minutes, is handled by the system.","in_flight":0,"pattern":null,"c'
    b'alls_today":0,"errors_today":0,"retries_today":0,"day":"","error_ratio_now":null'
    b',"error_ratio_normal":null,"calls_last_hour":0,"expected_last_hour":null,"last_c'
    b'all_at":null,"hour_start":0,"hourly_calls":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,'
    b'0,0,0,0,0,0],"hourly_errors":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"'
    b'updated_at":0.0,"last_change_id":null}'
)
INFLIGHT_EVENTS = (
    b'["processing",1800000000.0,1800000000.0,null,null,null]["retrying",{"d":[0,0,0,0'
    b",0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"
    b",0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"
    b',0,0,0,0,0,0,0,0,0,0,0,0],"s":null,"f":{},"a":{},"g":{},"e":{},"o":0,"x":0,"c":n'
    b'ull,"n":null,"p":{}}'
)
