"""What one worker of `hairedit serve` does with a queue bound of one: a full queue answers 503
with Retry-After and stores nothing; a running edit cancelled stops on its worker, which takes
the next job at once (the cancelled edit would run for hours, and never produces a result);
an edit with a `config` of its own (from the API, or `hairedit edit --server --config`) writes
the bytes `hairedit edit --config` writes."""

import json

import httpx
import pytest

from hairedit.cli import main
from hairedit.commands import config_of
from hairedit.errors import InputError
from tests.serving import ENDLESS, Server, edit_bytes, portrait, submit, wait_for

SPEC = {"rgb": "crimson", "seed": 4}
OWN_CONFIG = {"color": {"stage1_steps": 1}}  # one colour proxy step where smoke edits make three


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve_home")
    with Server(home, home / "data", "--workers", "1", "--max-queue", "1") as running:
        yield running


def test_a_full_queue_refuses_and_a_cancelled_running_edit_stops_for_the_next(server, tmp_path):
    photo = portrait(tmp_path)
    endless = submit(server, photo, {"rgb": "teal", "config": ENDLESS}).json()
    assert wait_for(server, endless["id"], ("running",))["state"] == "running"
    queued = submit(server, photo, SPEC)
    assert queued.status_code == 202 and queued.json()["state"] == "queued"
    jobs_before = sorted(path.name for path in (server.data_dir / "jobs").iterdir())
    full = submit(server, photo, SPEC)
    assert full.status_code == 503 and full.json()["error"] == "the queue is full (1 edits); try again later."
    assert int(full.headers["retry-after"]) >= 1
    assert sorted(path.name for path in (server.data_dir / "jobs").iterdir()) == jobs_before
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 503 and "the queue is full (1 edits)" in ready.json()["problems"]

    assert httpx.delete(f"{server.url}/v1/edits/{endless['id']}").json()["state"] == "cancelled"
    done = wait_for(server, queued.json()["id"], ("done", "failed"))
    assert done["state"] == "done", done["error"]
    assert done["started"] is not None
    stopped = httpx.get(f"{server.url}/v1/edits/{endless['id']}").json()
    assert stopped["state"] == "cancelled" and stopped["edit_seconds"] is None
    assert httpx.get(f"{server.url}/v1/edits/{endless['id']}/result").status_code == 409
    assert not (server.data_dir / "results" / endless["id"]).exists()
    assert not (server.data_dir / "jobs" / endless["id"]).exists()
    assert httpx.get(f"{server.url}/readyz").status_code == 200


def test_an_edit_with_its_own_config_writes_what_edit_with_that_config_writes(server, tmp_path):
    photo = portrait(tmp_path)
    expected = edit_bytes(photo, SPEC | {"config": OWN_CONFIG}, tmp_path / "expected.png", tmp_path / "edit_home")
    plain = edit_bytes(photo, SPEC, tmp_path / "plain.png", tmp_path / "edit_home")
    assert expected != plain  # the config changes the edit
    job = submit(server, photo, SPEC | {"config": OWN_CONFIG}).json()
    assert wait_for(server, job["id"], ("done", "failed"))["state"] == "done"
    assert httpx.get(f"{server.url}/v1/edits/{job['id']}/result").content == expected
    assert main(["edit", str(photo), "-o", str(tmp_path / "remote.png"), "--server", server.url, "--rgb", "crimson",
                 "--seed", "4", "--config", json.dumps(OWN_CONFIG)]) == 0  # edit --server sends its --config
    assert (tmp_path / "remote.png").read_bytes() == expected

    bad = {"text": {"steps": 100}, "colour": {}}
    with pytest.raises(InputError) as cli_error:  # what `hairedit edit --config` says
        config_of(bad, smoke=True)
    refused = submit(server, photo, SPEC | {"config": bad})
    assert refused.status_code == 422
    assert refused.json()["error"] == str(cli_error.value).replace("--config: ", "config: ", 1)
    not_an_object = submit(server, photo, SPEC | {"config": "fast"})
    assert not_an_object.status_code == 422 and "config must be a JSON object" in not_an_object.json()["error"]
