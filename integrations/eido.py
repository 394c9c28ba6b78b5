"""The EIDO a partner receives: the call's NENA EIDO (dispatch's builder) plus, for a call
raised by a partner's alarm, the alarm (alarmsSensorsComponent) and its media link
(mediaComponent), both components of NENA-STA-021's EmergencyIncidentDataObjectType."""

import mimetypes

from calls.models import Call
from dispatch.eido import call_eido


def call_eido_document(*, call_id):
    document = call_eido(call_id=call_id)
    alarm = Call.objects.filter(pk=call_id).values_list("alarm", flat=True).first()
    if alarm:
        _add_alarm(document, alarm)
    return document


def _add_alarm(document, alarm):
    prologue = {
        "lastUpdateTimeStamp": document["lastUpdateTimeStamp"],
        "updatedByAgencyReference": document["updatedByAgencyReference"],
    }
    incident_id = document["$id"]
    text = f"{alarm.get('source_name') or alarm['source']} ({alarm['source']}): {alarm['kind']}, " \
           f"alarm {alarm['external_id']}"
    if alarm.get("occurred_at"):
        text += f", occurred {alarm['occurred_at']}"
    sensor = {"$id": f"{incident_id}:alarm", **prologue, "csaaAlarmInformation": text}
    media_url = alarm.get("media_url")
    if media_url:
        sensor["alarmUrl"] = media_url
        content_type = mimetypes.guess_type(media_url.split("?", 1)[0])[0] or "application/octet-stream"
        document["mediaComponent"] = [{"$id": f"{incident_id}:media:alarm", **prologue, "uri": media_url,
                                       "contentType": content_type, "label": f"{alarm['source']} {alarm['kind']}"}]
    document["alarmsSensorsComponent"] = [sensor]
    return document
