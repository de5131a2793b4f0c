"""voicebank serve against its own OpenAPI document: property-based requests (schemathesis) to every operation find no 5xx.

A real uvicorn over HTTPS with ``--lan`` settings; the requests carry the token. Speech
inputs are kept short and voices real (in the copy of the document the test loads), so
generated requests do speak, and the run stays well under a minute.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
requests = pytest.importorskip("requests")
pytest.importorskip("uvicorn")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

from voicebank.engines import SynthesisOptions  # noqa: E402
from voicebank.serve.app import create_app  # noqa: E402
from voicebank.serve.settings import ServeSettings  # noqa: E402
from voicebank.serve.tls import ensure_certificate  # noqa: E402

from tests.helpers.serving import running  # noqa: E402

EXAMPLES = 30  # per operation and generation mode
SHORT_INPUT = 40  # characters of speech a generated request may ask for


@pytest.mark.slow
def test_no_operation_answers_with_a_server_error(home: Path, tmp_path: Path) -> None:
    tls = ensure_certificate(tmp_path / "tls", addresses=[])
    token = secrets.token_urlsafe(32)
    app = create_app(ServeSettings(
        port=0, token=token, lan=True, tls=tls, devices=tmp_path / "devices.json", rate=0,
        options=SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0),
    ))
    with running(app, scheme="https", ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key)) as (url, _), requests.Session() as session:
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override the CA given here
        session.verify = str(tls.ca_cert)
        session.headers["Authorization"] = f"Bearer {token}"
        document = session.get(url + "/openapi.json", timeout=30).json()
        speech = document["components"]["schemas"]["SpeechRequest"]["properties"]
        speech["input"]["maxLength"] = SHORT_INPUT
        speech["voice"]["enum"] = ["joe", "alloy", "nova"]  # voices that speak: random names only meet the 400
        schema = schemathesis.openapi.from_dict(document)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/v1/audio/speech", "/v1/models", "/v1/phrases", "/pair", "/health"}
        for operation in operations:
            takes_input = len(operation.body) > 0 or len(operation.query) > 0
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck))
                def answers_without_5xx(case) -> None:  # type: ignore[no-untyped-def]
                    case.call_and_validate(base_url=url, session=session, checks=[not_a_server_error], timeout=60, verify=str(tls.ca_cert))

                answers_without_5xx()
