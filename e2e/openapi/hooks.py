"""Schemathesis hooks: every request gets credentials of its own.

Public API: a fresh user and session per request, so an operation that ends the session
(POST /logout, DELETE /user) cannot starve the ones after it, and the `ignored_auth` check can
replace exactly the credentials set here; the Shared Signals endpoints get a fresh receiver's
token instead, and SCIM (`/scim/v2`) one SCIM client's token. Admin API: the api key.
"""
import json
import os
import uuid
import zlib

import requests
import schemathesis

ADMIN = os.environ["ST_ADMIN_URL"]
API_KEY = os.environ["ST_API_KEY"]
MODE = os.environ.get("ST_MODE", "public")
RECEIVER_TOKEN = None
SCIM_TOKEN = None


def _admin(path, body):
    res = requests.post(
        f"{ADMIN}{path}",
        json=body,
        headers={"authorization": f"Bearer {API_KEY}"},
        timeout=10,
    )
    res.raise_for_status()
    return res.json()


@schemathesis.auth(refresh_interval=None)
class Credentials:
    def get(self, case, ctx):
        if MODE == "admin":
            return API_KEY
        if case.operation.path.startswith("/scim/"):
            global SCIM_TOKEN
            if SCIM_TOKEN is None:
                SCIM_TOKEN = _admin("/scim/clients", {"name": "schemathesis"})["token"]
            return SCIM_TOKEN
        if case.operation.path.startswith("/ssf/"):
            # One receiver for the run, so a stream one request creates is the next one's.
            global RECEIVER_TOKEN
            if RECEIVER_TOKEN is None:
                receiver = _admin("/ssf/receivers", {"name": "schemathesis", "audience": "https://st.example"})
                RECEIVER_TOKEN = receiver["token"]
            return RECEIVER_TOKEN
        user = _admin(
            "/users",
            {"emails": [{"address": f"st-{uuid.uuid4().hex}@example.com", "is_primary": True}]},
        )
        return _admin("/sessions", {"user_id": user["id"]})["session_token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


# A SCIM filter (RFC 7644 §3.4.2.2) is a grammar no JSON Schema can state, so the documents give
# it as a string; a valid request needs a filter of that grammar. In positive cases the string
# schemathesis generated becomes the compared value of a filter drawn (by the value's hash) from
# these forms, covering every operator, `and`/`or`/`not`, presence and value paths. Negative
# cases and the coverage phase's odd strings are sent as generated and must get 400.
FILTER_FORMS = (
    "userName eq {v}",
    "userName ne {v}",
    "userName co {v}",
    "userName sw {v}",
    "externalId ew {v}",
    "emails.value gt {v}",
    "displayName le {v}",
    'emails[type eq "work"].value eq {v}',
    "not (userName eq {v})",
    "userName eq {v} or externalId eq {v}",
    "(displayName pr) and name.givenName ge {v}",
    "emails[value co {v} or primary eq true]",
    "active eq true and userName lt {v}",
)


def grammatical(value):
    if not isinstance(value, str):
        return value
    form = FILTER_FORMS[zlib.crc32(value.encode("utf-8", "surrogatepass")) % len(FILTER_FORMS)]
    return form.format(v=json.dumps(value, ensure_ascii=False))


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if not case.operation.path.startswith("/scim/") or case.meta is None:
        return
    if not case.meta.generation.mode.is_positive:
        return
    if isinstance(case.query, dict) and "filter" in case.query:
        case.query["filter"] = grammatical(case.query["filter"])
    if isinstance(case.body, dict) and "filter" in case.body:
        case.body["filter"] = grammatical(case.body["filter"])


# `DELETE /users/{id}/sessions` ends every session of a user; the collection stays, so
# `GET /users/{id}/sessions` answers 200 with `[]` afterwards, which the stateful phase's
# "deleted resource still available" check (use_after_free) takes for the deleted resource.
# The check runs as ever for every other read; the built-in one is excluded in `run`.
SESSION_COLLECTION = "/users/{id}/sessions"


@schemathesis.check
def use_after_free_but_collections(ctx, response, case):
    from schemathesis.specs.openapi.checks import use_after_free

    if case.operation.path == SESSION_COLLECTION and case.operation.method.lower() == "get":
        return None
    return use_after_free(ctx, response, case)
