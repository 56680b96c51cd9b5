"""ARM's error text reaches reports trimmed: the code and message a reader needs, nothing that helps nobody."""

import json

from shared.arm_errors import MAX_MESSAGE_LENGTH, clean_message, describe_response


def arm_error(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def test_status_code_and_message_make_one_line():
    body = arm_error("AuthorizationFailed", "The client 'x' does not have authorization.\n  Try again.")

    assert (
        describe_response(403, body)
        == "HTTP 403 AuthorizationFailed: The client 'x' does not have authorization. Try again."
    )


def test_request_and_correlation_ids_and_timestamps_are_dropped():
    message = (
        "The subscription is throttled. (Request ID: 0a1b2c3d-1111-2222-3333-444455556666) "
        "Correlation ID: 9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff. Timestamp: 2026-11-26T10:00:00Z"
    )

    assert clean_message(message) == "The subscription is throttled."


def test_anything_token_like_is_redacted():
    jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQ.c2lnbmF0dXJlLXBhcnQ"
    message = f"Bearer abc.def failed; token {jwt}; https://host/x?sig=SECRET&sv=1 code=XYZ"

    cleaned = clean_message(message)

    assert "abc.def" not in cleaned and jwt not in cleaned and "SECRET" not in cleaned and "XYZ" not in cleaned
    assert "Bearer [redacted]" in cleaned and "sig=[redacted]" in cleaned


def test_long_messages_are_cut_to_a_readable_length():
    cleaned = clean_message("word " * 500)

    assert len(cleaned) == MAX_MESSAGE_LENGTH
    assert cleaned.endswith("…")


def test_bodies_that_are_not_arm_errors_give_the_status_alone():
    assert describe_response(502, "<html>Bad gateway</html>") == "HTTP 502"
    assert describe_response(500, json.dumps({"error": "flat"})) == "HTTP 500"
    assert describe_response(500, None) == "HTTP 500"
