"""Parser for Advanced Mobile Location (AML) messages: pure Python, no Django.

``parse_aml(message, msisdn)`` returns an :class:`AmlFix` or raises :class:`AmlParseError`
(a ``ValueError`` whose ``.reason`` names the offending field). It never raises anything
else, whatever the input string.

Formats accepted (the message is stripped of surrounding whitespace first, and may be at
most 2000 characters):

* **SMS v1** (ETSI TS 103 625 / EENA AML; same table in Google's ELS "SMS Specification",
  developers.google.com/android/els/reference/sms-spec, "ELS V1")::

      A"ML=1;lt=+54.76397;lg=-0.18305;rd=50;top=20130717141935;lc=90;pm=W;si=...;ei=...;mcc=234;
      mnc=30;ml=128      (one line)

  ``lt``/``lg`` latitude/longitude (degrees), ``rd`` radius (m), ``top`` time of
  positioning (UTC ``YYYYMMDDhhmmss``), ``lc`` confidence (%), ``pm`` positioning method
  (G GNSS, W Wi-Fi, C cell, N no location, U unknown), ``si`` IMSI, ``ei`` IMEI,
  ``mcc``/``mnc`` network, ``ml`` length of the whole message including the header and
  the ``ml`` field. lt, lg, rd and top are required; a missing or mismatched ml is a
  warning on the fix, not a rejection; pm=N is rejected.
* **SMS v2** ("ELS Beta" in the same Google page; also what the cpilatre/aml-lib parser
  implements)::

      A"ML=2;en=112;et=1593187189;lo=-37.42175,-122.08461,2000.1;lt=-9999;lc=68;lz=-100.1,100.1;
      ls=G;ei=...;nc=310260;hc=310260;lg=en-US      (one line)

  ``en`` emergency number dialled (not the caller), ``et`` start of the call (Unix
  seconds), ``lo`` ``lat,lon[,accuracy]`` (accuracy 0 = unknown), ``lt`` time of the
  fix in seconds *relative to et* (not latitude!), ``lc`` confidence (%), ``lz``
  altitude,vertical accuracy, ``ls`` location source (W Wi-Fi, G GPS, C cell, F fused,
  U unknown), ``nc``/``hc`` network/home MCC+MNC, ``lg`` language (not longitude!).
  Assumptions, since ELS Beta is informally specified: ``lo`` is required; the fix time
  is ``et + lt`` (``et`` alone if ``lt`` is absent, |lt| <= 1 day); an absolute 14-digit
  ``lt`` (``YYYYMMDDhhmmss`` UTC) is also accepted, as some gateways send it; an unknown
  accuracy becomes ``UNKNOWN_ACCURACY_M`` so that it never outranks a measured fix; ``F``
  (fused) maps to "unknown" (the raw letter stays in ``fields``); ``ml`` is optional
  but checked when present.
* **HTTPS form** (EENA AML HTTPS; field names as in cpilatre/aml-lib)::

      v=1&device_number=%2B447477593102&location_latitude=55.85732&location_longitude=-4.26325
      &location_time=1476189444435&location_accuracy=10.4&location_source=GPS&location_certainty=83&...
      (one line)

  ``location_time`` is Unix seconds, or milliseconds when >= 1e11 (published examples
  use ms); ``location_source`` gps/gnss, wifi, cell, anything else "unknown", "none" is
  rejected as no fix; ``location_certainty`` percent (else ``location_confidence`` 0..1).
  ``device_number`` is the caller when no ``msisdn`` is given.
  HMAC: with a non-empty ``hmac_key`` the body must carry exactly one ``hmac`` field,
  the hex (either case) HMAC-SHA1 (key = UTF-8 ``hmac_key``) of the *raw,
  still-URL-encoded* body with the ``hmac=...`` pair removed and the remaining pairs
  re-joined with ``&`` in their original order (for the usual trailing ``&hmac=`` this
  is simply the text before it; matches the published aml-lib test vector). SMS carry
  no HMAC, so the key does not apply to them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

MAX_MESSAGE_CHARS = 2000
MAX_RADIUS_M = 100_000.0
UNKNOWN_ACCURACY_M = MAX_RADIUS_M  # stands for "accuracy unknown" (v2 lo accuracy 0)
MS_THRESHOLD = 100_000_000_000  # 1e11: as seconds that is year 5138, as ms it is 1973

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Plain decimals only: float() would also take "nan", "inf", "1_0", "1e3" and spaces.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INT = re.compile(r"[+-]?[0-9]+")
_TIMESTAMP14 = re.compile(r"[0-9]{14}")
_PHONE = re.compile(r"\+?[0-9]{3,15}")
_SEPARATORS = re.compile(r"[\s\-().]")

_PM_V1 = {"G": "gnss", "W": "wifi", "C": "cell", "N": "none", "U": "unknown"}
_LS_V2 = {"G": "gnss", "W": "wifi", "C": "cell", "F": "unknown", "U": "unknown", "N": "none"}
_HTTPS_SOURCE = {"gps": "gnss", "gnss": "gnss", "wifi": "wifi", "cell": "cell", "none": "none"}


class AmlParseError(ValueError):
    """A message that cannot be turned into a fix; ``reason`` is short and names the field."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AmlFix:
    version: str  # "1", "2" or "https"
    msisdn: str
    lat: float
    lon: float
    accuracy_m: float
    fix_time: datetime  # timezone-aware UTC
    positioning: str  # gnss | wifi | cell | none | unknown
    confidence: int | None
    fields: dict = field(hash=False)  # raw key -> value strings, for storage
    # What was wrong but not worth losing a caller's location over (a length field that
    # does not match): the fix is used, and the message is flagged with these.
    warnings: tuple = ()


def parse_aml(message: str, msisdn: str | None = None, *, hmac_key: str = "") -> AmlFix:
    if not isinstance(message, str):
        raise AmlParseError("message: not a string")
    if len(message) > MAX_MESSAGE_CHARS:
        raise AmlParseError(f"message: longer than {MAX_MESSAGE_CHARS} characters")
    text = message.strip()
    if text.startswith('A"ML='):
        return _parse_sms(text, msisdn)
    if text.startswith("v=") or ("=" in text and "&" in text):
        return _parse_https(text, msisdn, hmac_key)
    raise AmlParseError("not an AML message")


# --- SMS ---------------------------------------------------------------------------------


def _parse_sms(text: str, msisdn: str | None) -> AmlFix:
    fields: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise AmlParseError(f"malformed field {part[:20]!r} (expected key=value)")
        if key in fields:
            raise AmlParseError(f"{key[:20]}: duplicate field")
        fields[key] = value
    version = fields['A"ML']
    if version not in ("1", "2"):
        raise AmlParseError(f'A"ML: unsupported AML version {version[:10]!r}')
    caller = _msisdn(msisdn, "msisdn")
    warnings = ()
    if "ml" in fields or version == "1":
        warnings = _length_warnings(text, fields)
    fix = _sms_v1(fields, caller) if version == "1" else _sms_v2(fields, caller)
    return replace(fix, warnings=warnings) if warnings else fix


def _length_warnings(text: str, fields: dict) -> tuple:
    """`ml` guards against a truncated SMS, but every field is checked on its own, so a
    message whose fields all parse is used whatever its length field says (published
    examples from Google and aml-lib carry a wrong one): flagged, never thrown away."""
    try:
        declared = _integer(_required(fields, "ml"), "ml")
    except AmlParseError as exc:
        return (exc.reason,)
    if declared != len(text):
        return (f"ml: declared length {declared} but message has {len(text)} characters",)
    return ()


def _sms_v1(fields: dict, caller: str) -> AmlFix:
    pm = fields.get("pm", "U")
    positioning = _PM_V1.get(pm.upper())
    if positioning is None:
        raise AmlParseError(f"pm: unknown positioning method {pm[:10]!r}")
    # Checked before the coordinates: a no-fix message carries placeholders (rd=N).
    if positioning == "none":
        raise AmlParseError("pm: handset reports no fix (pm=N)")
    return AmlFix(
        version="1",
        msisdn=caller,
        lat=_latitude(_required(fields, "lt"), "lt"),
        lon=_longitude(_required(fields, "lg"), "lg"),
        accuracy_m=_radius(_required(fields, "rd"), "rd"),
        fix_time=_timestamp14(_required(fields, "top"), "top"),
        positioning=positioning,
        confidence=_confidence(fields.get("lc"), "lc"),
        fields=fields,
    )


def _sms_v2(fields: dict, caller: str) -> AmlFix:
    ls = fields.get("ls", "U")
    positioning = _LS_V2.get(ls.upper())
    if positioning is None:
        raise AmlParseError(f"ls: unknown location source {ls[:10]!r}")
    if positioning == "none":
        raise AmlParseError("ls: handset reports no fix (ls=N)")
    parts = _required(fields, "lo").split(",")
    if len(parts) not in (2, 3):
        raise AmlParseError("lo: expected lat,lon[,accuracy]")
    lat = _latitude(parts[0], "lo latitude")
    lon = _longitude(parts[1], "lo longitude")
    accuracy = _radius(parts[2], "lo accuracy") if len(parts) == 3 else 0.0
    return AmlFix(
        version="2",
        msisdn=caller,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy or UNKNOWN_ACCURACY_M,  # the spec's "0 represents unknown"
        fix_time=_v2_fix_time(fields),
        positioning=positioning,
        confidence=_confidence(fields.get("lc"), "lc"),
        fields=fields,
    )


def _v2_fix_time(fields: dict) -> datetime:
    lt = fields.get("lt")
    if lt is not None and _TIMESTAMP14.fullmatch(lt):
        return _timestamp14(lt, "lt")
    if "et" not in fields:
        raise AmlParseError("et: missing field (needed for the time of positioning)")
    call_start = _epoch(fields["et"], "et")
    if lt is None:
        return call_start
    offset = _integer(lt, "lt")
    if abs(offset) > 86_400:
        raise AmlParseError(f"lt: offset {offset} s from et out of range")
    return call_start + timedelta(seconds=offset)


# --- HTTPS form --------------------------------------------------------------------------


def _parse_https(text: str, msisdn: str | None, hmac_key: str) -> AmlFix:
    pairs = text.split("&")
    if hmac_key:
        _check_hmac(pairs, hmac_key)
    fields: dict[str, str] = {}
    for pair in pairs:
        raw_key, sep, raw_value = pair.partition("=")
        key = unquote_plus(raw_key)
        if not sep or not key:
            raise AmlParseError(f"malformed form field {pair[:20]!r} (expected key=value)")
        if key in fields:
            raise AmlParseError(f"{key[:30]}: duplicate field")
        fields[key] = unquote_plus(raw_value)
    if msisdn is None:
        number = fields.get("device_number", "")
        # A literal, unencoded "+" decodes to a space; it was the international prefix.
        if number.startswith(" "):
            number = "+" + number.lstrip()
        caller = _msisdn(number or None, "device_number")
    else:
        caller = _msisdn(msisdn, "msisdn")
    source = fields.get("location_source", "unknown")
    positioning = _HTTPS_SOURCE.get(source.strip().lower(), "unknown")
    if positioning == "none":
        raise AmlParseError("location_source: handset reports no fix")
    return AmlFix(
        version="https",
        msisdn=caller,
        lat=_latitude(_required(fields, "location_latitude"), "location_latitude"),
        lon=_longitude(_required(fields, "location_longitude"), "location_longitude"),
        accuracy_m=_radius(_required(fields, "location_accuracy"), "location_accuracy"),
        fix_time=_epoch(_required(fields, "location_time"), "location_time"),
        positioning=positioning,
        confidence=_https_confidence(fields),
        fields=fields,
    )


def _check_hmac(pairs: list[str], key: str) -> None:
    signed = [p for p in pairs if p.partition("=")[0] != "hmac"]
    tags = [p.partition("=")[2] for p in pairs if p.partition("=")[0] == "hmac"]
    if not tags:
        raise AmlParseError("hmac: missing (an HMAC key is configured)")
    if len(tags) > 1:
        raise AmlParseError("hmac: duplicate field")
    body = "&".join(signed).encode("utf-8", "surrogatepass")
    expected = hmac.new(key.encode("utf-8", "surrogatepass"), body, hashlib.sha1).hexdigest()
    # Compare bytes: compare_digest refuses non-ASCII str, and the tag is attacker input.
    if not hmac.compare_digest(expected.encode(), tags[0].lower().encode("utf-8", "surrogatepass")):
        raise AmlParseError("hmac: signature does not match")


def _https_confidence(fields: dict) -> int | None:
    if "location_certainty" in fields:
        return _confidence(fields["location_certainty"], "location_certainty")
    if "location_confidence" not in fields:
        return None
    fraction = _decimal(fields["location_confidence"], "location_confidence")
    if not 0 <= fraction <= 1:
        raise AmlParseError(f"location_confidence: {fraction} outside 0..1")
    return round(fraction * 100)


# --- field helpers -----------------------------------------------------------------------


def _required(fields: dict, name: str) -> str:
    value = fields.get(name)
    if value is None or value == "":
        raise AmlParseError(f"{name}: missing field")
    return value


def _decimal(value: str, name: str) -> float:
    if not _DECIMAL.fullmatch(value):
        raise AmlParseError(f"{name}: {value[:20]!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise AmlParseError(f"{name}: {value[:20]!r} is not a finite number")
    return number


def _integer(value: str, name: str) -> int:
    if not _INT.fullmatch(value) or len(value) > 20:
        raise AmlParseError(f"{name}: {value[:20]!r} is not an integer")
    return int(value)


def _latitude(value: str, name: str) -> float:
    lat = _decimal(value, name)
    if not -90 <= lat <= 90:
        raise AmlParseError(f"{name}: latitude {lat} out of range")
    return lat


def _longitude(value: str, name: str) -> float:
    lon = _decimal(value, name)
    if not -180 <= lon <= 180:
        raise AmlParseError(f"{name}: longitude {lon} out of range")
    return lon


def _radius(value: str, name: str) -> float:
    radius = _decimal(value, name)
    if not 0 <= radius <= MAX_RADIUS_M:
        raise AmlParseError(f"{name}: radius {radius} m out of range 0..{MAX_RADIUS_M:g}")
    return radius


def _confidence(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    percent = _integer(value, name)
    if not 0 <= percent <= 100:
        raise AmlParseError(f"{name}: confidence {percent} outside 0..100")
    return percent


def _timestamp14(value: str, name: str) -> datetime:
    if not _TIMESTAMP14.fullmatch(value):
        raise AmlParseError(f"{name}: {value[:20]!r} is not a YYYYMMDDhhmmss time")
    try:
        parts = (value[0:4], value[4:6], value[6:8], value[8:10], value[10:12], value[12:14])
        return datetime(*map(int, parts), tzinfo=UTC)
    except ValueError:
        raise AmlParseError(f"{name}: {value} is not a valid date and time") from None


def _epoch(value: str, name: str) -> datetime:
    seconds = _decimal(value, name)
    if abs(seconds) >= MS_THRESHOLD:
        seconds /= 1000
    try:
        return _EPOCH + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise AmlParseError(f"{name}: {value[:20]!r} is out of range") from None


def _msisdn(value: str | None, name: str) -> str:
    if value is None or not value.strip():
        raise AmlParseError(f"{name}: caller number missing")
    number = _SEPARATORS.sub("", value)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not _PHONE.fullmatch(number):
        raise AmlParseError(f"{name}: {value[:20]!r} is not a phone number")
    return number
