"""Tests for calls.aml.parse_aml: published AML examples plus malformed and fuzzed input.

No database: plain functions that never request the ``db`` fixture.

Published examples used (copied verbatim, source noted next to each):
* GridGears/aml-sms-parser, src/test/java/at/gridgears/aml/AmlMessageParserTest.java (MIT).
* Google ELS "SMS Specification", developers.google.com/android/els/reference/sms-spec.
* cpilatre/aml-lib, tests/verify.rs (AML v2 SMS, HTTPS form and an HMAC-SHA1 test vector).
"""

import hashlib
import hmac
import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from calls.aml import UNKNOWN_ACCURACY_M, AmlFix, AmlParseError, parse_aml

CALLER = "+77011234567"

# GridGears AmlMessageParserTest "validMessage"; its ml=128 is consistent.
V1_GRIDGEARS = (
    'A"ML=1;lt=+54.76397;lg=-0.18305;rd=50;top=20130717141935;lc=90;pm=W;'
    "si=123456789012345;ei=1234567890123456;mcc=234;mnc=30;ml=128"
)
# Google ELS SMS spec, "Examples / No location".
V1_GOOGLE_NO_LOCATION = (
    'A"ML=1;lt=+00.00000;lg=+000.00000;rd=N;top=20220131173734;lc=0;pm=N;'
    "si=234159000000000;ei=123456789012345;mcc=234;mnc=15;ml=127"
)
# Google ELS SMS spec, "Examples / Location computed": 127 characters but says ml=126.
V1_GOOGLE_COMPUTED = (
    'A"ML=1;lt=+51.53321;lg=-0.12601;rd=14;top=20220131171748;lc=68;pm=W;'
    "si=234159000000000;ei=123456789012345;mcc=234;mnc=15;ml=126"
)
# cpilatre/aml-lib tests/verify.rs from_text_sms: 126 characters but says ml=128.
V1_AML_LIB = (
    'A"ML=1;lt=48.82639;lg=-2.36619;rd=52;top=20191112112928;lc=68;pm=G;'
    "si=208201771948415;ei=353472104343540;mcc=208;mnc=20;ml=128"
)
# cpilatre/aml-lib tests/verify.rs from_text_sms_v2 (Google "ELS Beta" layout).
V2_AML_LIB = (
    'A"ML=2;en=+15555555555;et=1593187189;lo=-37.42175,-122.08461,2000.1;lt=-9999;lc=68;'
    "lz=-100.1,100.1;ls=G;ei=358239059042542;nc=310260;hc=310260;lg=en-US"
)
# cpilatre/aml-lib tests/verify.rs from_https (EENA HTTPS field names; time in ms).
HTTPS_AML_LIB = (
    "v=1&device_number=%2B447477593102&location_latitude=55.85732&location_longitude=-4.26325"
    "&location_time=1476189444435&location_accuracy=10.4&location_source=GPS&location_certainty=83"
    "&location_altitude=0.0&location_floor=5&device_model=ABC+ABC+Detente+530&device_imei=354773072099116"
    "&device_imsi=234159176307582&device_os=AOS&cell_carrier=&cell_home_mcc=234&cell_home_mnc=15"
    "&cell_network_mcc=234&cell_network_mnc=15&cell_id=0213454321"
)
# cpilatre/aml-lib tests/verify.rs authenticate: HMAC-SHA1 with key "AML".
HTTPS_HMAC_VECTOR = (
    "v=1&device_number=%2B33611223344&location_latitude=0.85732&location_longitude=-4.26325"
    "&location_time=1604912121000&location_accuracy=10.4&location_source=GPS&location_certainty=83"
    "&hmac=f64c70eb238bb239e00e8ac8c023bf2b5d3c41dd"
)
# Our own form body in the layout of the brief (seconds, not ms, in location_time).
HTTPS_FORM = (
    "v=1&device_number=%2B447700900123&location_latitude=55.74317&location_longitude=-4.26881"
    "&location_time=1376060400&location_accuracy=50&location_source=wifi&location_certainty=83"
)


def sms(body: str) -> str:
    """Append a correct ml= field to an SMS body ending in ';'."""
    for digits in (2, 3, 4):
        length = len(body) + len("ml=") + digits
        if len(str(length)) == digits:
            return f"{body}ml={length}"
    raise AssertionError("body too long")


def v1(**overrides) -> str:
    values = {
        "lt": "+51.12845",
        "lg": "+071.43046",
        "rd": "15",
        "top": "20261127103000",
        "lc": "68",
        "pm": "G",
        "si": "401010000000000",
        "ei": "356708041746734",
        "mcc": "401",
        "mnc": "01",
    }
    values.update(overrides)
    return sms('A"ML=1;' + "".join(f"{k}={v};" for k, v in values.items() if v is not None))


def v2(**overrides) -> str:
    values = {
        "en": "112",
        "et": "1795775400",
        "lo": "+51.12845,+71.43046,15",
        "lt": "5",
        "lc": "68",
        "ls": "G",
        "ei": "356708041746734",
        "nc": "40101",
    }
    values.update(overrides)
    return sms('A"ML=2;' + "".join(f"{k}={v};" for k, v in values.items() if v is not None))


def reason(message: str, msisdn: str | None = CALLER, **kwargs) -> str:
    with pytest.raises(AmlParseError) as err:
        parse_aml(message, msisdn, **kwargs)
    return err.value.reason


def signed(body: str, key: str) -> str:
    return body + "&hmac=" + hmac.new(key.encode(), body.encode(), hashlib.sha1).hexdigest()


# --- SMS v1 ------------------------------------------------------------------------------


def test_v1_published_gridgears_example():
    fix = parse_aml(V1_GRIDGEARS, CALLER)
    assert isinstance(fix, AmlFix)
    assert (fix.version, fix.msisdn, fix.lat, fix.lon, fix.accuracy_m) == ("1", CALLER, 54.76397, -0.18305, 50)
    assert fix.fix_time == datetime(2013, 7, 17, 14, 19, 35, tzinfo=UTC)
    assert (fix.positioning, fix.confidence) == ("wifi", 90)
    assert fix.fields["si"] == "123456789012345" and fix.fields['A"ML'] == "1"


def test_v1_spec_example_for_astana():
    fix = parse_aml(v1(), "+7 701 123 45 67")
    assert (fix.lat, fix.lon, fix.accuracy_m, fix.positioning) == (51.12845, 71.43046, 15, "gnss")
    assert fix.msisdn == CALLER
    assert fix.fix_time == datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


def test_v1_google_no_location_example_is_rejected_as_no_fix():
    assert "no fix" in reason(V1_GOOGLE_NO_LOCATION)


@pytest.mark.parametrize("message", [V1_GOOGLE_COMPUTED, V1_AML_LIB])
def test_v1_published_examples_with_inconsistent_ml_are_used_and_flagged(message):
    # These published samples were hand-edited: their ml no longer matches their length.
    # Every other field parses, so the caller's location is kept (issue 13).
    fix = parse_aml(message, CALLER)
    assert len(fix.warnings) == 1 and fix.warnings[0].startswith("ml: declared length")
    assert -90 <= fix.lat <= 90 and fix.accuracy_m > 0


def test_v1_google_computed_example_with_corrected_ml():
    fix = parse_aml(V1_GOOGLE_COMPUTED.replace("ml=126", "ml=127"), CALLER)
    assert (fix.lat, fix.lon, fix.accuracy_m, fix.positioning, fix.confidence) == (51.53321, -0.12601, 14, "wifi", 68)


def test_v1_wrong_or_missing_ml_is_a_warning_on_a_good_fix():
    good = v1()
    assert parse_aml(good, CALLER).warnings == ()
    wrong = parse_aml(good[:-3] + str(int(good[-3:]) + 1), CALLER)
    assert wrong.warnings[0].startswith("ml: declared length") and wrong.lat == parse_aml(good, CALLER).lat
    assert parse_aml(good.rsplit(";ml=", 1)[0], CALLER).warnings == ("ml: missing field",)
    assert parse_aml(good.rsplit("ml=", 1)[0] + "ml=abc", CALLER).warnings[0].startswith("ml:")
    # a truncated message still fails on the field it lost, not on its length
    assert reason(good.split(";rd=")[0]).startswith("rd")


def test_v1_surrounding_whitespace_is_not_counted_in_ml():
    assert parse_aml("  " + v1() + "\r\n", CALLER).lat == 51.12845


@pytest.mark.parametrize("name", ["lt", "lg", "rd", "top"])
def test_v1_missing_required_field(name):
    assert reason(v1(**{name: None})) == f"{name}: missing field"


@pytest.mark.parametrize(
    ("overrides", "prefix"),
    [
        ({"lt": "+95.1"}, "lt: latitude 95.1 out of range"),
        ({"lg": "-180.5"}, "lg: longitude -180.5 out of range"),
        ({"lt": "nan"}, "lt:"),
        ({"lg": "inf"}, "lg:"),
        ({"lt": "1e1"}, "lt:"),
        ({"lt": "4 5"}, "lt:"),
        ({"lt": "+٥١.١"}, "lt:"),  # Arabic-Indic digits are not AML digits
        ({"rd": "-1"}, "rd: radius"),
        ({"rd": "100001"}, "rd: radius"),
        ({"rd": "N"}, "rd:"),
        ({"top": "20131317163000"}, "top:"),
        ({"top": "2013071716300"}, "top:"),
        ({"lc": "101"}, "lc: confidence"),
        ({"lc": "99.9"}, "lc:"),
        ({"pm": "Z"}, "pm: unknown positioning method"),
        ({"pm": "N"}, "pm: handset reports no fix"),
    ],
)
def test_v1_invalid_values(overrides, prefix):
    assert reason(v1(**overrides)).startswith(prefix)


def test_v1_structure_errors():
    assert "duplicate" in reason(sms('A"ML=1;lt=+1.0;lt=+2.0;lg=+1.0;rd=1;top=20260101000000;'))
    assert "malformed field" in reason(sms('A"ML=1;;lt=+1.0;lg=+1.0;rd=1;top=20260101000000;'))
    assert "unsupported AML version" in reason(sms('A"ML=3;lt=+1.0;lg=+1.0;rd=1;top=20260101000000;'))


def test_v1_positioning_defaults_to_unknown_and_extra_fields_are_kept():
    fix = parse_aml(v1(pm=None, lc=None, xx="future"), CALLER)
    assert (fix.positioning, fix.confidence, fix.fields["xx"]) == ("unknown", None, "future")
    assert parse_aml(v1(pm="U"), CALLER).positioning == "unknown"
    assert parse_aml(v1(pm="C"), CALLER).positioning == "cell"


def test_sms_needs_a_caller_number():
    assert reason(v1(), None) == "msisdn: caller number missing"
    assert "not a phone number" in reason(v1(), "abc")
    assert parse_aml(v1(), "0077011234567").msisdn == CALLER


# --- SMS v2 ------------------------------------------------------------------------------


def test_v2_published_aml_lib_example():
    fix = parse_aml(V2_AML_LIB, CALLER)
    assert (fix.version, fix.lat, fix.lon, fix.accuracy_m) == ("2", -37.42175, -122.08461, 2000.1)
    assert fix.fix_time == datetime(2020, 6, 26, 13, 13, 10, tzinfo=UTC)  # et + lt (-9999 s)
    assert (fix.positioning, fix.confidence) == ("gnss", 68)
    # In v2 "lg" is a language tag and "en" the number dialled, not longitude / caller.
    assert fix.fields["lg"] == "en-US" and fix.msisdn == CALLER


def test_v2_lt_is_a_time_not_a_latitude():
    absolute = v2(et=None, lt="20261127103000")
    fix = parse_aml(absolute, CALLER)
    assert (fix.lat, fix.lon) == (51.12845, 71.43046)
    assert fix.fix_time == datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
    relative = parse_aml(v2(), CALLER)
    assert relative.fix_time == datetime(2026, 11, 27, 10, 30, 5, tzinfo=UTC)
    # The same value read with v1 keys is a latitude, and out of range.
    assert reason(v1(lt="20261127103000")).startswith("lt: latitude")


def test_v2_optional_fields_and_unknown_accuracy():
    fix = parse_aml(v2(lo="+51.1,+71.4,0", lt=None, ls="F", lc=None), CALLER)
    assert fix.accuracy_m == UNKNOWN_ACCURACY_M  # "an accuracy of 0 represents unknown"
    assert fix.fix_time == datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
    assert (fix.positioning, fix.confidence) == ("unknown", None)
    assert parse_aml(v2(ls="W"), CALLER).positioning == "wifi"


def test_v2_ml_is_optional_but_checked():
    assert parse_aml(V2_AML_LIB + ";ml=" + str(len(V2_AML_LIB) + 7), CALLER).lat == -37.42175
    assert parse_aml(V2_AML_LIB + ";ml=50", CALLER).warnings[0].startswith("ml: declared length")


@pytest.mark.parametrize(
    ("overrides", "prefix"),
    [
        ({"lo": None}, "lo: missing field"),
        ({"lo": "+51.1"}, "lo: expected"),
        ({"lo": "+91,+71,5"}, "lo latitude: latitude 91.0 out of range"),
        ({"lo": "+51,nan,5"}, "lo longitude:"),
        ({"lo": "+51,+71,-5"}, "lo accuracy:"),
        ({"et": None}, "et: missing field"),
        ({"et": "yesterday"}, "et:"),
        ({"lt": "90000"}, "lt: offset"),
        ({"lt": "5.5"}, "lt:"),
        ({"lc": "200"}, "lc: confidence"),
        ({"ls": "X"}, "ls: unknown location source"),
        ({"ls": "N"}, "ls: handset reports no fix"),
    ],
)
def test_v2_invalid_values(overrides, prefix):
    assert reason(v2(**overrides)).startswith(prefix)


# --- HTTPS form --------------------------------------------------------------------------


def test_https_published_aml_lib_example_with_ms_time():
    fix = parse_aml(HTTPS_AML_LIB)
    assert (fix.version, fix.msisdn, fix.lat, fix.lon, fix.accuracy_m) == (
        "https",
        "+447477593102",
        55.85732,
        -4.26325,
        10.4,
    )
    assert fix.fix_time == datetime(2016, 10, 11, 12, 37, 24, 435000, tzinfo=UTC)
    assert (fix.positioning, fix.confidence) == ("gnss", 83)
    assert fix.fields["device_model"] == "ABC ABC Detente 530" and fix.fields["cell_carrier"] == ""


def test_https_seconds_time_and_sources():
    fix = parse_aml(HTTPS_FORM)
    body = HTTPS_FORM
    assert fix.fix_time == datetime(2013, 8, 9, 15, tzinfo=UTC)
    assert (fix.msisdn, fix.positioning) == ("+447700900123", "wifi")
    assert parse_aml(body.replace("wifi", "cell")).positioning == "cell"
    assert parse_aml(body.replace("wifi", "hybrid")).positioning == "unknown"
    assert "no fix" in reason(body.replace("wifi", "none"))
    # An explicit msisdn (the SMS/HTTP sender) wins over device_number.
    assert parse_aml(body, CALLER).msisdn == CALLER
    # A literal "+" that was not URL-encoded decodes to a space; it is restored.
    assert parse_aml(body.replace("%2B", "+")).msisdn == "+447700900123"
    fraction = body.replace("location_certainty=83", "location_confidence=0.68")
    assert parse_aml(fraction).confidence == 68


@pytest.mark.parametrize(
    ("old", "new", "prefix"),
    [
        ("device_number=%2B447700900123&", "", "device_number: caller number missing"),
        ("location_latitude=55.74317", "location_latitude=-91", "location_latitude: latitude"),
        ("location_longitude=-4.26881", "location_longitude=NaN", "location_longitude:"),
        ("location_time=1376060400", "location_time=soon", "location_time:"),
        ("location_time=1376060400", "location_time=99999999999999999999", "location_time: "),
        ("location_accuracy=50", "location_accuracy=", "location_accuracy: missing field"),
        ("location_certainty=83", "location_certainty=101", "location_certainty: confidence"),
        ("&location_source=wifi", "&location_source=wifi&v=2", "v: duplicate field"),
        ("&location_source=wifi", "&location_source=wifi&junk", "malformed form field"),
    ],
)
def test_https_invalid_values(old, new, prefix):
    body = HTTPS_FORM
    assert old in body
    assert reason(body.replace(old, new), None).startswith(prefix)


def test_https_hmac_published_vector():
    fix = parse_aml(HTTPS_HMAC_VECTOR, hmac_key="AML")
    assert (fix.msisdn, fix.lat) == ("+33611223344", 0.85732)
    assert fix.fix_time == datetime(2020, 11, 9, 8, 55, 21, tzinfo=UTC)
    body, tag = HTTPS_HMAC_VECTOR.rsplit("=", 1)
    assert parse_aml(f"{body}={tag.upper()}", hmac_key="AML").lat == 0.85732  # hex case is irrelevant


def test_https_hmac_failures():
    assert reason(HTTPS_HMAC_VECTOR, hmac_key="other") == "hmac: signature does not match"
    tampered = HTTPS_HMAC_VECTOR.replace("latitude=0.85732", "latitude=0.85733")
    assert reason(tampered, hmac_key="AML") == "hmac: signature does not match"
    unsigned = HTTPS_HMAC_VECTOR.rsplit("&hmac=", 1)[0]
    assert reason(unsigned, hmac_key="AML") == "hmac: missing (an HMAC key is configured)"
    assert reason(HTTPS_HMAC_VECTOR + "&hmac=00", hmac_key="AML") == "hmac: duplicate field"
    assert reason(unsigned + "&hmac=ünïcode", hmac_key="AML") == "hmac: signature does not match"
    # Without a configured key the tag is neither required nor checked.
    assert parse_aml(unsigned).lat == 0.85732
    assert parse_aml(tampered).lat == 0.85733


def test_https_hmac_is_over_the_body_without_the_hmac_pair_wherever_it_is():
    head = "v=1&device_number=%2B447700900123&location_latitude=55.1"
    tail = "location_longitude=71.4&location_time=1795775400&location_accuracy=8"
    tag = hmac.new(b"k3y", f"{head}&{tail}".encode(), hashlib.sha1).hexdigest()
    assert parse_aml(f"{head}&hmac={tag}&{tail}", hmac_key="k3y").accuracy_m == 8
    assert parse_aml(signed(f"{head}&{tail}", "k3y"), hmac_key="k3y").accuracy_m == 8


# --- detection and limits ----------------------------------------------------------------


@pytest.mark.parametrize("message", ["", "hello", "AML=1;lt=+1", "a=b", "   "])
def test_not_an_aml_message(message):
    assert reason(message) == "not an AML message"


def test_limits_and_non_strings():
    assert "longer than 2000" in reason(v1() + " " * 2000)
    assert reason(None) == "message: not a string"  # type: ignore[arg-type]


# --- fuzz --------------------------------------------------------------------------------


def _mutate(rng: random.Random, text: str) -> str:
    alphabet = 'A"ML=;&,+-.0123456789eEnaNiIf%xX \t\n\u00e9\u0661\ud800'
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(chars) + 1)
        if op < 0.4 and chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(alphabet)
        elif op < 0.7:
            chars.insert(pos, rng.choice(alphabet))
        elif chars:
            del chars[min(pos, len(chars) - 1)]
    return "".join(chars)


def test_fuzz_never_raises_anything_but_aml_parse_error():
    rng = random.Random(112)
    seeds = [V1_GRIDGEARS, v1(), v2(), V2_AML_LIB, HTTPS_AML_LIB, HTTPS_HMAC_VECTOR, V1_GOOGLE_NO_LOCATION]
    accepted = 0
    for i in range(6000):
        if i % 5 == 0:
            message = "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(0, 80)))
        else:
            message = _mutate(rng, rng.choice(seeds))
        for key in ("", "AML"):
            try:
                fix = parse_aml(message, rng.choice([None, CALLER]), hmac_key=key)
            except AmlParseError as err:
                assert err.reason and isinstance(err.reason, str)
                continue
            accepted += 1
            assert -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180
            assert math.isfinite(fix.accuracy_m) and 0 <= fix.accuracy_m <= 100_000
            assert fix.fix_time.utcoffset() == timedelta(0)
            assert fix.positioning in {"gnss", "wifi", "cell", "unknown"}
    assert accepted > 0  # some mutations (e.g. in si/ei digits) stay valid
