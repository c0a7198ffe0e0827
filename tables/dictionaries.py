"""Deflate preset dictionaries of the packed table values (``tables.packed``): the field
names and texts every record repeats, so a small record does not spell them out.

Frozen: a record is inflated with the dictionary it was deflated with, so changing one
needs a new packed format version (old records must still decode).
"""

WINDOW_COUNTS = (
    b'{"p":0,"i":"web","t":1800000000.0,"w":{"1800000000":[1,0,0,{"503":1}],"180000006'
    b'0":[0,0,0,{}]},"a":{"0":0}}'
)
OPERATION_MODELS = (  # Format 3's.
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
# Format 4's: a fresh state's fields (most were added after format 3's dictionary), then
# the first 3,000 bytes of a learned one (Website.Subscribe after 4 days of the
# simulator's realistic traffic, seed 1: the shapes and digits of learned values). The
# realistic suite's models pack 18% smaller than with format 3's (1,050 -> 861 bytes).
OPERATION_MODELS_4 = (
    b'{"version":2,"integration":"web","first_boundary":0,"last_boundary":0,"basel'
    b'ine":{"hourly":[[0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0'
    b",0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0],[0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0"
    b'.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0]],"seen":[[0,0,0,'
    b"0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
    b'0,0,0,0,0,0,0,0]],"error_calls":0.0,"error_errors":0.0,"dispersion":1.0,"clu'
    b'mping":null,"burst_hours":0,"hour_start":null,"hour_calls":0,"hour_tainted":'
    b'false,"hour_errors":0,"wobble":[24.0,384.0],"last_hour":[0,0,0,0],"today":[0'
    b',0,0],"within_day":[24.0,384.0],"error_clumps":[0.0,0.0],"clump_pool":1.0,"p'
    b'ending":[],"holiday":[0.0,0.0,0.0],"residuals":[],"down":[0.1,0.06,0.04],"vo'
    b'lume_hours":0,"offset":0.0,"sustained":[0.0,0.0,0.0],"peak":0.69314718055994'
    b'53,"run_gaps":[],"run_spans":[],"last_run":null,"last_call_end":null,"siblin'
    b'g":[0.0,0.0],"period":0,"jitter":0},"status":"learning","since":0,"reason":"'
    b'","observed":{},"expected":{},"total_calls":0,"recent_calls":[],"recent_erro'
    b'rs":[],"recent_expected":[],"recent_high":[],"last_call_boundary":null,"sile'
    b'nt_expected":0.0,"silent_effective":0.0,"schedule_gap":0,"level":[0.0,0.0,0.'
    b'0],"calm":0,"milder":0,"held":0,"known":0,"volume":null,"recent_codes":[],"r'
    b'ecent_repeats":[],"looped_normal":0.0,"hour_sums":[0.0,0.0,0.0,0.0],"quarter'
    b'_sums":[0.0,0.0,0.0,0.0],"five_sums":[0,0]}{"version":2,"integration":"websi'
    b'te","first_boundary":1772409600,"last_boundary":1772755140,"baseline":{"hour'
    b'ly":[[13.25,21.5,17.25,18.5,23.75,25.5,39.0,48.75,104.25,158.25,201.25,329.0'
    b",278.25,394.75,517.5,291.5,239.8125,323.50000000000006,173.5,122.5,90.25,50."
    b"0,25.5,26.0],[0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0."
    b'0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0]],"seen":[[4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4'
    b',4,4,4,4,4,4,4,3],[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]],"error_'
    b'calls":6274.78137016195,"error_errors":69.69952711563022,"dispersion":1.2626'
    b'115218067269,"clumping":0.346184454404751,"burst_hours":93,"hour_start":1772'
    b'751600,"hour_calls":17,"hour_tainted":false,"hour_errors":0,"wobble":[-34.05'
    b'209240513837,1070.3606626717906],"last_hour":[1772748000,32,0,0],"today":[17'
    b'72668800,3709,39],"within_day":[-27.377437080018172,1027.6452743617942],"err'
    b'or_clumps":[118.49222244202333,129.02061975239434],"clump_pool":1.0,"pending'
    b'":[],"holiday":[0.0,0.0,0.0],"residuals":[[1772722800,0.40876696290575804,0.'
    b"009830522334164265],[1772726400,0.24512507914237555,0.008955950195054817],[1"
    b"772730000,0.6238474876082826,0.006644366702283771],[1772733600,0.90150929849"
    b"75034,0.014885250609044807],[1772737200,0.13436644345594664,0.02398165080883"
    b"5523],[1772740800,-0.6364652530677736,0.027814773116337094],[1772744400,-0.3"
    b"068039573286477,0.05819022026353823],[1772748000,0.3791386011400911,0.046958"
    b'615971468616]],"down":[0.10553496837855031,0.025596988958900828,0.0039507269'
    b'17761602],"volume_hours":57,"offset":-0.03386500578885139,"sustained":[0.0,0'
    b'.0,0.0],"peak":0.8489927435872284,"run_gaps":[480,1140,300,300,480,900,300,1'
    b'080,540,360,720,360],"run_spans":[60,960,60,120,300,600,60,60,180,60,360,180'
    b'],"last_run":1772755080,"last_call_end":1772755140,"sibling":[2.042483054322'
    b'8736,5.319851403502411],"period":0,"jitter":0},"status":"ok","since":1772416'
    b'800,"reason":"learned from 45 calls over 2 h","observed":{},"expected":{},"t'
    b'otal_calls":14682,"recent_calls":[0,0,0,3,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,'
    b"0,0,0,0,0,2,1,2,0,0,0,0,0,0,1,0,0,0,0,0,1,0,1,0,0,1,0,0,0,0,0,0,1,1,1,0,0,0,"
    b'1],"recent_errors":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,'
    b'0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"recent_exp'
    b'ected":[0.38888888888888884,0.4292361111111111,0.429375,0.4295138888888889,0'
    b".42965277777777783,0.4297916666666667,0.42993055555555554,0.4300694444444444"
    b"5,0.4302083333333333,0.4303472222222222,0.43048611111111107,0.430625,0.43076"
    b"38888888889,0.4309027777777778,0.4310416666666666,0.43118055555555557,0.4313"
    b"194444444444,0.4314583333333334,0.43159722222222224,0.4317361111111111,0.431"
    b"875,0.4320138888888889,0.4321527777777778,0.4322916666666667,0.4324305555555"
    b"5554,0.4325694444444444,0.4327083333333333,0.4328472222222222,0.432986111111"
    b"11107,0.4331249999999999,0.4332638888888889,0.4315625,0.4280208333333333,0.4"
    b"244791666666667,0.4209375,0.4173958333333333,0.4138541666666667,0.4103124999"
    b"9999997,0.4067708333333333,0.4032291666666667,0.3996875,0.39614583333333336,"
    b"0.3"
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
