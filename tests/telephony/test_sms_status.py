"""POST /telephony/sms/status/: Twilio's delivery reports for the messages we sent."""

import pytest

from telephony.models import OutboundMessage
from telephony.sms import sms_send
from tests.factories import MemberFactory
from tests.twilio_helpers import post_signed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_retries")]

Status = OutboundMessage.Status
PATH = "/telephony/sms/status/"


@pytest.fixture
def sent(fake_twilio, django_capture_on_commit_callbacks):
    """A message sent through the fake Twilio, with its sid stored."""

    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_send(to=member.phone, body="Hello", kind="test", dedupe_key="test:1", member=member)
    message.refresh_from_db()
    assert message.status == Status.SENT
    return message


def test_signed_callback_marks_delivered(client, fake_twilio, sent):
    response = fake_twilio.status_callback(sent.message_sid, "delivered", client=client)
    assert response.status_code == 204
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED


def test_undelivered_records_the_carrier_error(client, fake_twilio, sent):
    fake_twilio.status_callback(sent.message_sid, "undelivered", client=client, error_code=30003)
    sent.refresh_from_db()
    assert (sent.status, sent.error_code) == (Status.UNDELIVERED, "30003")
    assert "Unreachable" in sent.error_message


def test_delivered_then_late_sent_stays_delivered(client, fake_twilio, sent):
    fake_twilio.status_callback(sent.message_sid, "delivered", client=client)
    response = fake_twilio.status_callback(sent.message_sid, "sent", client=client)
    assert response.status_code == 204
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED


def test_failed_is_final_even_against_a_later_delivered(client, fake_twilio, sent):
    fake_twilio.status_callback(sent.message_sid, "failed", client=client, error_code=30008)
    fake_twilio.status_callback(sent.message_sid, "delivered", client=client)
    sent.refresh_from_db()
    assert sent.status == Status.FAILED


def test_duplicate_callbacks_change_nothing_more(client, fake_twilio, sent, django_assert_max_num_queries):
    fake_twilio.status_callback(sent.message_sid, "delivered", client=client)
    sent.refresh_from_db()
    updated_at = sent.updated_at
    # The UPDATE that changes nothing, and the look-up that tells a duplicate from a SID not stored yet.
    with django_assert_max_num_queries(2):
        response = fake_twilio.status_callback(sent.message_sid, "delivered", client=client)
    assert response.status_code == 204
    sent.refresh_from_db()
    assert sent.updated_at == updated_at


@pytest.mark.parametrize("signature", [None, "bm90IGEgc2lnbmF0dXJl"])
def test_bad_or_missing_signature_is_refused_and_changes_nothing(client, sent, signature):
    params = {"MessageSid": sent.message_sid, "MessageStatus": "delivered"}
    extra = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    response = client.post(PATH, params, **extra)
    assert response.status_code == 403
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_signed_with_another_token_is_refused(client, sent):
    response = post_signed(
        client, PATH, {"MessageSid": sent.message_sid, "MessageStatus": "delivered"}, token="other-token"
    )
    assert response.status_code == 403
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_unknown_sid_or_status_is_answered_and_ignored(client):
    assert post_signed(client, PATH, {"MessageSid": "SMunknown", "MessageStatus": "delivered"}).status_code == 204
    assert post_signed(client, PATH, {"MessageSid": "SMunknown", "MessageStatus": "weird"}).status_code == 204
    assert post_signed(client, PATH, {}).status_code == 204


def test_get_is_not_allowed(client):
    assert client.get(PATH).status_code == 405


def test_callback_over_http_to_a_live_server(live_server, fake_twilio, django_capture_on_commit_callbacks):

    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_send(to=member.phone, body="Live", kind="test", dedupe_key="test:live", member=member)
    message.refresh_from_db()
    assert fake_twilio.status_callback(message.message_sid, "delivered", base_url=live_server.url) == 204
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_a_failed_callback_that_beats_the_stored_sid_is_applied(
    live_server, fake_twilio, django_capture_on_commit_callbacks
):
    from telephony.models import EarlyMessageStatus

    answers = []
    fake_twilio.on_create = lambda sid: answers.append(
        fake_twilio.status_callback(sid, "failed", base_url=live_server.url, error_code=30006)
    )
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_send(to=member.phone, body="Fast fail", kind="test", dedupe_key="test:early", member=member)
    assert answers == [204]  # the callback came before the worker stored the SID
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "30006")
    assert not EarlyMessageStatus.objects.exists()


# --- Callbacks nobody planned for, in any order -------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"MessageStatus": "delivered"},
        {"MessageSid": "SMunknown", "MessageStatus": "delivered"},
        {"MessageSid": "{sid}"},
        *({"MessageSid": "{sid}", "MessageStatus": s} for s in ("receiving", "received", "garbage", "", "DELIVERED!")),
        {"MessageSid": "{sid}\x00", "MessageStatus": "failed", "ErrorCode": "x" * 500},
        {"MessageSid": "S" * 5000, "MessageStatus": "read"},
    ],
)
def test_the_status_callback_never_500s_and_ignores_what_it_cannot_use(client, params):
    row = OutboundMessage.objects.create(
        to="+4915100000001", body="hi", kind="test", dedupe_key="cb", status=Status.SENT, message_sid="SM" + "a" * 32
    )
    params = {name: value.replace("{sid}", row.message_sid) for name, value in params.items()}
    response = post_signed(client, "/telephony/sms/status/", params)
    assert response.status_code == 204
    row.refresh_from_db()
    assert row.status == Status.SENT


@pytest.mark.parametrize(
    ("sequence", "final", "code"),
    [
        (["accepted", "scheduled", "queued", "sent", "delivered"], Status.DELIVERED, ""),
        (["delivered", "sent", "queued", "undelivered"], Status.DELIVERED, ""),
        (["read", "delivered", "failed"], Status.DELIVERED, ""),
        (["undelivered", "delivered", "sent"], Status.UNDELIVERED, "30003"),
        (["canceled", "sent"], Status.FAILED, "30003"),
    ],
)
def test_status_callbacks_in_any_order_only_move_forward(client, sequence, final, code):
    row = OutboundMessage.objects.create(
        to="+4915100000001",
        body="hi",
        kind="test",
        dedupe_key="cb",
        status=Status.SENT,
        message_sid="SM" + "abc" * 10 + "ab",
    )
    for status in sequence:
        for _ in range(2):
            response = post_signed(
                client,
                "/telephony/sms/status/",
                {"MessageSid": "SM" + "abc" * 10 + "ab", "MessageStatus": status, "ErrorCode": "30003"},
            )
            assert response.status_code == 204
    row.refresh_from_db()
    assert (row.status, row.error_code) == (final, code)
